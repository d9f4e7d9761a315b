"""The key ring: key-encryption keys by id, one of them active.

Text format (ENCRYPTION_KEY, or the file ENCRYPTION_KEY_FILE names): entries `id:base64key`
separated by newlines or commas; blank lines and lines starting with `#` are ignored. The
FIRST entry is the active key (new values are sealed with it); the others only decrypt, until
`payment-service rotate-keys` has moved every value to the active key and they can be retired.
An id is 1-32 characters of letters, digits, `.`, `_` and `-`; a key is 32 random bytes
(`openssl rand -base64 32`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

KEY_BYTES = 32  # AES-256
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")

DEVELOPMENT_KEY_ID = "development"


class KeyRingError(ValueError):
    """The key ring text is malformed. Messages name the entry, never key material."""


@dataclass(frozen=True, slots=True)
class KeyRing:
    keys: Mapping[str, bytes] = field(repr=False)
    active_id: str
    # A key everybody can derive (APP_ENV development/test without ENCRYPTION_KEY).
    development: bool = False

    def __post_init__(self) -> None:
        if self.active_id not in self.keys:
            raise KeyRingError(f"the active key {self.active_id!r} is not in the ring")

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_id]


def decode_key(text: str, what: str) -> bytes:
    """32 bytes from standard or URL-safe base64."""
    cleaned = text.strip()
    try:
        raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise KeyRingError(f"{what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyRingError(f"{what} must decode to {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def parse_key_ring(text: str) -> KeyRing:
    keys: dict[str, bytes] = {}
    for number, raw_entry in enumerate(re.split(r"[\n,]", text), start=1):
        entry = raw_entry.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, separator, material = entry.partition(":")
        key_id = key_id.strip()
        if not separator or not _KEY_ID.fullmatch(key_id):
            raise KeyRingError(
                f"entry {number} must be `id:base64key` with an id of 1-32 letters, digits, "
                "'.', '_' or '-'"
            )
        if key_id in keys:
            raise KeyRingError(f"key id {key_id!r} appears twice")
        keys[key_id] = decode_key(material, f"key {key_id!r}")
    if not keys:
        raise KeyRingError("the key ring holds no key")
    return KeyRing(keys, active_id=next(iter(keys)))


def _derived(label: str) -> bytes:
    return hashlib.sha256(
        f"payment-service development {label}, never for real data".encode()
    ).digest()


def development_key_ring() -> KeyRing:
    """Derived from a public label, so that development data stays readable across restarts
    and machines with nothing to set up - and protects nothing: flagged `development`, refused
    by staging/production and reported by `encryption_settings_problems`."""
    return KeyRing({DEVELOPMENT_KEY_ID: _derived("encryption key")}, DEVELOPMENT_KEY_ID, True)


def development_blind_index_key() -> bytes:
    return _derived("blind index key")
