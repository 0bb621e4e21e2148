"""Random version-4 UUIDs (session ids, ``jti``) without a system call per id.

``uuid.uuid4()`` reads 16 bytes with ``os.urandom`` every time.  That system call releases the
GIL, and under load the calling thread then waits for the switch interval to get it back
while other threads run Python: a password grant made three such calls.  Here the same kernel
CSPRNG is read 4 KiB at a time, so 256 ids cost one call.  The buffer is dropped in a forked
child, so processes forked from one parent (gunicorn's workers) never hand out the same ids.
"""

from __future__ import annotations

import os
import threading

_BLOCK = 4096
_lock = threading.Lock()
_buffer = b""
_offset = 0


def random_uuid() -> str:
    """A random UUID in its canonical form, like ``str(uuid.uuid4())``."""
    global _buffer, _offset
    with _lock:
        if _offset + 16 > len(_buffer):
            _buffer = os.urandom(_BLOCK)
            _offset = 0
        raw = bytearray(_buffer[_offset : _offset + 16])
        _offset += 16
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _forget_after_fork() -> None:
    global _buffer, _offset
    _buffer, _offset = b"", 0


os.register_at_fork(after_in_child=_forget_after_fork)

__all__ = ["random_uuid"]
