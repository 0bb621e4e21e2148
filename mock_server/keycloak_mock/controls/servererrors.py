"""Exceptions raised while serving, kept so a test can fail on them instead of a bare 500."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServerError:
    """An exception raised while serving a request (the client got a 500)."""

    method: str | None
    path: str | None
    type: str
    message: str
    traceback: str
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "type": self.type,
            "message": self.message,
            "traceback": self.traceback,
        }


class ServerErrors:
    """Exceptions the app logged while serving, kept until read so a test can fail on them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: list[ServerError] = []

    def add(self, error: ServerError) -> None:
        with self._lock:
            if len(self._errors) < 100:
                self._errors.append(error)

    def snapshot(self) -> list[ServerError]:
        with self._lock:
            return list(self._errors)

    def clear(self) -> list[ServerError]:
        with self._lock:
            errors, self._errors = self._errors, []
            return errors
