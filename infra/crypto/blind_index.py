"""Blind indexes: HMAC-SHA256 of a value under BLIND_INDEX_KEY, for equality lookups on
encrypted columns. The key is not an encryption key: knowing it does not decrypt anything,
and the ciphertexts' keys can rotate without recomputing the indexes."""

from __future__ import annotations

import hashlib
import hmac

MIN_KEY_BYTES = 32


class HmacBlindIndexer:
    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a blind index key must have at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def digest(self, purpose: str, value: str) -> bytes:
        # The purpose is part of the MAC input: equal values in two columns do not match.
        message = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()
