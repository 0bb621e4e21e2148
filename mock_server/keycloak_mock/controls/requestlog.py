"""What the mock received, one record per request: "logged in once, refreshed twice" is assertable.

A record keeps what identifies a call (endpoint, grant type, realm, client_id, username, status)
and never a password, client secret or token: the refresh grant's username is looked up from the
session the token names, not copied from the token.  Records sit in a bounded deque (old ones
fall off under soak traffic); the per-endpoint counters are exact for the whole run.

Each ``clear()`` starts a new epoch, and a request is logged only into the epoch it began in: a
request still asleep in a delay fault when a test ends and the next one resets the mock belongs to
the test that sent it, so it must not turn up in the next test's log.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote

from .faults import endpoint_matches

#: Records kept; counters are not bounded by it.
MAX_RECORDS = 10_000


@dataclass(frozen=True, kw_only=True)
class RequestRecord:
    """One request as the mock saw it.  Nothing secret: no password, secret or token."""

    at: float
    method: str
    path: str
    endpoint: str | None
    realm: str | None
    grant_type: str | None
    client_id: str | None
    username: str | None
    #: The status answered; ``None`` when a fault dropped the connection.
    status: int | None
    #: ``"status"``, ``"delay"`` or ``"drop"`` when a scripted fault shaped the answer.
    fault: str | None = None
    #: Seconds from the first hook to the answer (a scripted delay included); ``None`` if unknown.
    duration: float | None = None

    @property
    def counter_key(self) -> str:
        name = self.endpoint.rpartition(".")[2] if self.endpoint else "unmatched"
        return f"{name}:{self.grant_type}" if self.grant_type else name

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["grantType"] = body.pop("grant_type")
        body["clientId"] = body.pop("client_id")
        return body


class RequestLog:
    """Thread-safe, bounded log of ``RequestRecord``s with exact counters."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=max_records)
        self._counters: Counter[str] = Counter()
        self._epoch = 0

    @property
    def epoch(self) -> int:
        """Which ``clear()`` the log is at: read when a request starts, passed back to ``add``."""
        return self._epoch

    def add(self, record: RequestRecord, epoch: int | None = None) -> None:
        """Log ``record``, unless the log was cleared since its request began (``epoch``)."""
        with self._lock:
            if epoch is not None and epoch != self._epoch:
                return
            self._records.append(record)
            self._counters[record.counter_key] += 1

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._counters.clear()
            self._epoch += 1

    def counters(self) -> dict[str, int]:
        """Requests per ``endpoint`` or ``endpoint:grant_type``, e.g. ``{"token:password": 1}``."""
        with self._lock:
            return dict(self._counters)

    def records(
        self,
        *,
        endpoint: str | None = None,
        grant_type: str | None = None,
        realm: str | None = None,
        client_id: str | None = None,
        username: str | None = None,
        status: int | None = None,
        limit: int | None = None,
    ) -> list[RequestRecord]:
        """Records, oldest first, that match every filter given; the newest ``limit`` of them."""
        with self._lock:
            records = list(self._records)
        chosen = [
            r
            for r in records
            if (
                endpoint is None
                or (r.endpoint is not None and endpoint_matches(endpoint, r.endpoint))
            )
            and (grant_type is None or r.grant_type == grant_type)
            and (realm is None or r.realm == realm)
            and (client_id is None or r.client_id == client_id)
            and (username is None or (r.username or "").lower() == username.lower())
            and (status is None or r.status == status)
        ]
        # Polled every few seconds by the page: it asks for the last rows, not all 10,000.
        return chosen if limit is None else chosen[max(len(chosen) - limit, 0) :]


def client_id_from(form: Mapping[str, str], authorization: str | None) -> str | None:
    """The client_id a request names: the form's, else HTTP Basic's user part (RFC 6749 2.3.1)."""
    if form.get("client_id"):
        return form["client_id"]
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, _secret = decoded.partition(":")
        return unquote(user) if sep else None
    return None


def session_id_from_token(token: str) -> str | None:
    """The unverified ``sid`` claim of a JWT: only used to name the user in the log."""
    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > 8192:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    sid = payload.get("sid") if isinstance(payload, dict) else None
    return sid if isinstance(sid, str) else None
