"""AES-256-GCM envelope encryption of single column values.

Why an envelope (a fresh data key per value, wrapped by the key ring's key-encryption key)
rather than sealing each value directly under the key-encryption key:
- a data key encrypts exactly one value, so its random 96-bit nonce can never repeat under
  it; the key-encryption key only ever encrypts 32-byte data keys;
- rotating the key-encryption key re-wraps the 48-byte wrapped data key and leaves the value's
  ciphertext as it is, whatever its size (webhook payloads run to kilobytes);
- the layout is the one a KMS-held key-encryption key would need (wrap/unwrap calls only).
The cost: one extra AES-GCM call on 32 bytes and ~76 bytes per value.

Layout, format version 1 (all lengths in bytes):
    0       1         2..2+n   12          48                    12          rest
    version key id n  key id   wrap nonce  wrapped data key+tag  data nonce  ciphertext+tag
Associated data: of the key wrap, the header (version, n, key id) and the place (table,
column, row id); of the value, the version and the place. Neither the key id nor the place can
be changed unnoticed, and a rotation re-wraps the data key without touching the value.

Format version 0 is a plaintext value that migration 0011 found in the database before any
key existed: it is read as is, and `rotate-keys` seals it. (Anyone able to write the database
could plant such a value; `rotate-keys` counts them, and after the first rotation there are
none left to find.)
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra.crypto.keyring import KEY_BYTES, KeyRing
from infra.db.sealing import Place, UnreadableValue

PLAINTEXT_FORMAT = 0
ENVELOPE_FORMAT = 1
NONCE_BYTES = 12
TAG_BYTES = 16
WRAPPED_KEY_BYTES = KEY_BYTES + TAG_BYTES
_BODY_OFFSET = NONCE_BYTES + WRAPPED_KEY_BYTES + NONCE_BYTES

_ALTERED = "authentication failed: it was not sealed for this place, or it was altered"


def _body_aad(place: Place) -> bytes:
    return bytes((ENVELOPE_FORMAT,)) + place.associated_data()


def envelope_header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    return bytes((ENVELOPE_FORMAT, len(encoded))) + encoded


def plaintext_value(plaintext: bytes) -> bytes:
    """A format-0 value, as migration 0011 writes the plaintext it finds."""
    return bytes((PLAINTEXT_FORMAT,)) + plaintext


class EnvelopeCipher:
    """Seals with the ring's active key; opens with any key of the ring."""

    def __init__(self, ring: KeyRing, *, random_bytes: Callable[[int], bytes] = os.urandom):
        self.ring = ring
        self._random = random_bytes
        self._keks = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}
        self._active_header = envelope_header(ring.active_id)

    @property
    def active_header(self) -> bytes:
        """The prefix every value sealed with the active key starts with."""
        return self._active_header

    def seal(self, plaintext: bytes, place: Place) -> bytes:
        data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        return self._wrap(data_key, self._encrypt_body(data_key, plaintext, place), place)

    def open(self, sealed: bytes, place: Place, *, accept_plaintext: bool = True) -> bytes:
        if sealed[:1] == bytes((PLAINTEXT_FORMAT,)):
            if not accept_plaintext:
                raise UnreadableValue(f"{place}: a plaintext value where only sealed ones go")
            return sealed[1:]
        data_key, body = self._unwrap(sealed, place)
        data_nonce, ciphertext = body[:NONCE_BYTES], body[NONCE_BYTES:]
        try:
            return AESGCM(data_key).decrypt(data_nonce, ciphertext, _body_aad(place))
        except InvalidTag:
            raise UnreadableValue(f"{place}: {_ALTERED}") from None

    def rewrap(self, sealed: bytes, place: Place) -> bytes:
        """The same value under the active key. Only the data key is re-encrypted; a
        plaintext (format 0) value is sealed."""
        if sealed[:1] == bytes((PLAINTEXT_FORMAT,)):
            return self.seal(sealed[1:], place)
        data_key, body = self._unwrap(sealed, place)
        return self._wrap(data_key, body, place)

    def key_id(self, sealed: bytes) -> str | None:
        """The id of the key a value is sealed with; None for a format-0 plaintext value."""
        if sealed[:1] == bytes((PLAINTEXT_FORMAT,)):
            return None
        return self._parse_header(sealed, None)[1]

    def _encrypt_body(self, data_key: bytes, plaintext: bytes, place: Place) -> bytes:
        nonce = self._random(NONCE_BYTES)
        return nonce + AESGCM(data_key).encrypt(nonce, plaintext, _body_aad(place))

    def _wrap(self, data_key: bytes, body: bytes, place: Place) -> bytes:
        nonce = self._random(NONCE_BYTES)
        aad = self._active_header + place.associated_data()
        wrapped = self._keks[self.ring.active_id].encrypt(nonce, data_key, aad)
        return self._active_header + nonce + wrapped + body

    def _parse_header(self, sealed: bytes, place: Place | None) -> tuple[bytes, str]:
        where = f"{place}: " if place else ""
        if not sealed:
            raise UnreadableValue(f"{where}empty value")
        if sealed[0] != ENVELOPE_FORMAT:
            raise UnreadableValue(f"{where}unknown format version {sealed[0]}")
        end = 2 + (sealed[1] if len(sealed) > 1 else 0)
        if len(sealed) < end + _BODY_OFFSET + TAG_BYTES:
            raise UnreadableValue(f"{where}truncated value")
        try:
            key_id = sealed[2:end].decode("ascii")
        except UnicodeDecodeError:
            raise UnreadableValue(f"{where}malformed key id") from None
        return sealed[:end], key_id

    def _unwrap(self, sealed: bytes, place: Place) -> tuple[bytes, bytes]:
        """(data key, nonce + ciphertext of the value)."""
        header, key_id = self._parse_header(sealed, place)
        kek = self._keks.get(key_id)
        if kek is None:
            raise UnreadableValue(
                f"{place}: sealed with key {key_id!r}, which is not in the key ring"
            )
        rest = sealed[len(header) :]
        nonce, wrapped = rest[:NONCE_BYTES], rest[NONCE_BYTES : NONCE_BYTES + WRAPPED_KEY_BYTES]
        try:
            data_key = kek.decrypt(nonce, wrapped, header + place.associated_data())
        except InvalidTag:
            raise UnreadableValue(f"{place}: {_ALTERED}") from None
        return data_key, rest[NONCE_BYTES + WRAPPED_KEY_BYTES :]
