"""Tokens already verified, so that a caller's next calls with the same bearer token cost a
dictionary look-up instead of a signature check and the claims' parsing.

Bounded (least recently used out first) and keyed by the SHA-256 of the token: the token itself
is never held here, so never shown by anything that shows the cache. An entry is good until
the token's `exp`, and only while the key that verified it is still the issuer's key for that
key id (the verifier checks that on every hit, see JwtVerifier.verify).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.actor import Actor

DEFAULT_MAX_ENTRIES = 10_000


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    actor: Actor
    expires_at: float  # the token's exp claim, seconds since the epoch
    header: dict[str, Any]  # its alg and kid, to ask the key source again
    key: object  # the key that verified it: the entry is good only while it is the same


class VerifiedTokenCache:
    """`clock`: seconds since the epoch (a token's exp is one)."""

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[bytes, VerifiedToken] = OrderedDict()

    def get(self, digest: bytes) -> VerifiedToken | None:
        """The entry of a token that has not expired yet; an expired one is dropped."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if self._clock() >= entry.expires_at:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return entry

    def put(self, digest: bytes, entry: VerifiedToken) -> None:
        if self.max_entries <= 0 or self._clock() >= entry.expires_at:
            return
        self._entries[digest] = entry
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def discard(self, digest: bytes) -> None:
        self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)
