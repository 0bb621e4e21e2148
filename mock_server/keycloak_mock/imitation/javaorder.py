"""Iteration order of Java's ``HashSet``/``HashMap`` for string keys.

Keycloak serialises several collections (realm roles, client roles, the ``otherClaims`` map that
holds profile claims, finAPI's extra response fields) straight from Java hash containers, so the
order a client sees is the bucket order of those keys.  Reproducing it keeps our JSON byte-for-byte
comparable with a real server's; the order is deterministic because ``String.hashCode`` is.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

_DEFAULT_CAPACITY = 16
_LOAD_FACTOR = 0.75


def java_string_hash(value: str) -> int:
    """``java.lang.String.hashCode`` over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    for unit in _utf16_units(value):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def java_hash_order(keys: Iterable[str]) -> list[str]:
    """Return ``keys`` (deduplicated) in the order a ``java.util.HashSet`` would iterate them.

    Keys are inserted in the given order; colliding keys keep insertion order within a bucket,
    which is what Java's linked bins do for the small sets Keycloak builds.
    """
    return list(_hash_order(tuple(dict.fromkeys(keys))))


@functools.lru_cache(maxsize=1024)
def _hash_order(unique: tuple[str, ...]) -> tuple[str, ...]:
    # Cached: every token orders the same few key sets (claim names, role names), and hashing
    # them in Python was ~8 % of a password grant.  Bounded, as the sets come from the config.
    capacity = _DEFAULT_CAPACITY
    while len(unique) > capacity * _LOAD_FACTOR:
        capacity *= 2
    buckets: dict[int, list[str]] = {}
    for key in unique:
        h = java_string_hash(key) & 0xFFFFFFFF
        spread = h ^ (h >> 16)
        buckets.setdefault(spread & (capacity - 1), []).append(key)
    return tuple(key for index in sorted(buckets) for key in buckets[index])


def _utf16_units(value: str) -> Iterable[int]:
    encoded = value.encode("utf-16-be")
    for i in range(0, len(encoded), 2):
        yield (encoded[i] << 8) | encoded[i + 1]
