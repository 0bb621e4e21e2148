"""The one clock the server reads.

Every timestamp the mock writes into a token and every expiry it checks comes from a ``Clock``,
so tests can move time (``advance``) or stop it (``freeze``) and see exactly what a client would
see after waiting.  Keycloak works in whole seconds; ``seconds()`` gives that view.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock time plus a test-controlled offset, optionally frozen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None

    def now(self) -> float:
        frozen = self._frozen_at
        return frozen if frozen is not None else time.time() + self._offset

    def seconds(self) -> int:
        return int(self.now())

    def advance(self, seconds: float) -> None:
        """Move time forward (or back, with a negative value)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds

    def freeze(self, at: float | None = None) -> None:
        """Stop time at ``at`` (default: now) until ``unfreeze``."""
        with self._lock:
            self._frozen_at = self.now() if at is None else at

    def unfreeze(self) -> None:
        """Let time run again from where it stands."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._offset = 0.0
            self._frozen_at = None

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None
