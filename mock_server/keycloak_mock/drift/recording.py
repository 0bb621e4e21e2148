"""Recordings: the live side's observations in a JSON file, safe to attach to a bug report.

A recording holds observations only (``observe.py``): no request bodies, no token, password or
username, no header value other than Keycloak's own.  ``save_recording`` checks that once more
against the secrets it is given before it writes, so a mistake upstream fails loudly instead of
leaking.  ``--replay`` compares the mock against such a file without any network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "keycloak-mock-drift-recording"
#: A JWT's encoded header: whatever it is, a token has no place in a recording.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.")
VERSION = 1


class RecordingError(Exception):
    """A recording file that cannot be read, or one that would contain a secret."""


@dataclass(frozen=True)
class Recording:
    """What one run saw of one server: where, as which realm and client, and the observations."""

    source: str
    mandator: str
    client_id: str
    steps: Mapping[str, Mapping[str, Any]] = field(repr=False)
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "source": self.source,
            "mandator": self.mandator,
            "client_id": self.client_id,
        }
        if self.note:
            document["note"] = self.note
        document["steps"] = {name: dict(observed) for name, observed in self.steps.items()}
        return document


def dumps(recording: Recording, secrets: Iterable[str] = ()) -> str:
    """The recording as JSON text; raises ``RecordingError`` if any of ``secrets`` is in it."""
    text = json.dumps(recording.as_json(), indent=2, ensure_ascii=False) + "\n"
    if any(secret and secret in text for secret in secrets) or _JWT.search(text):
        raise RecordingError("refusing to write a recording that contains a secret")
    return text


def save_recording(path: str | Path, recording: Recording, secrets: Iterable[str] = ()) -> None:
    text = dumps(recording, secrets)
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RecordingError(f"cannot write {path}: {exc.strerror or exc}") from exc


def load_recording(path: str | Path) -> Recording:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise RecordingError(f"{path}: not JSON ({exc})") from exc
    return parse_recording(document, str(path))


def parse_recording(document: Any, name: str = "recording") -> Recording:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise RecordingError(f"{name}: not a keycloak-mock drift recording")
    if document.get("version") != VERSION:
        raise RecordingError(f"{name}: unsupported version {document.get('version')!r}")
    steps = document.get("steps")
    if not isinstance(steps, dict) or not all(isinstance(v, dict) for v in steps.values()):
        raise RecordingError(f"{name}: 'steps' must map step names to observations")
    for key in ("source", "mandator", "client_id"):
        if not isinstance(document.get(key), str) or not document[key]:
            raise RecordingError(f"{name}: '{key}' must be a non-empty string")
    return Recording(
        source=document["source"],
        mandator=document["mandator"],
        client_id=document["client_id"],
        steps=steps,
        note=str(document.get("note", "")),
    )


__all__ = [
    "FORMAT",
    "VERSION",
    "Recording",
    "RecordingError",
    "dumps",
    "load_recording",
    "parse_recording",
    "save_recording",
]
