"""Encryption at rest, as the mappers see it: the ports an encryption adapter implements
(infra/crypto) and the helpers that seal and open one column of one row.

Every sealed value is bound to where it is stored - table, column and row id - through the
AEAD's associated data: a ciphertext copied to another row or column does not decrypt, it
raises `UnreadableValue` (never plaintext garbage). Empty values are stored as NULL, not
sealed: they hold nothing to protect and cost nothing on the hot path.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, Protocol


class UnreadableValue(Exception):
    """A stored value cannot be decrypted: unknown key id, unknown format version, or it was
    not sealed for this table, column and row (tampered or copied). The message names the
    place and the reason, never the value."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value is stored; its encoding is the associated data of the value."""

    table: str
    column: str
    row_id: str

    def associated_data(self) -> bytes:
        # Length-prefixed parts: no separator can be forged inside a row id.
        parts = [b"payments-at-rest", *(p.encode() for p in (self.table, self.column, self.row_id))]
        return b"".join(struct.pack(">H", len(part)) + part for part in parts)

    def __str__(self) -> str:
        return f"{self.table}.{self.column} of row {self.row_id}"


class FieldCipher(Protocol):
    def seal(self, plaintext: bytes, place: Place) -> bytes:
        """A self-describing ciphertext (format version, key id) bound to `place`."""

    def open(self, sealed: bytes, place: Place, *, accept_plaintext: bool = True) -> bytes:
        """The plaintext; raises UnreadableValue. `accept_plaintext=False` also refuses a
        value stored in clear before encryption existed (only the database has those)."""


class BlindIndexer(Protocol):
    def digest(self, purpose: str, value: str) -> bytes:
        """A keyed, deterministic digest of `value` for equality lookups; `purpose` keeps the
        digests of different columns apart."""


@dataclass(frozen=True, slots=True)
class Sealer:
    """What the mappers and repositories use: typed seal/open over a cipher, plus blind
    indexes. Built once by the composition root."""

    cipher: FieldCipher
    indexer: BlindIndexer

    def seal_text(self, value: str | None, place: Place) -> bytes | None:
        return self.cipher.seal(value.encode(), place) if value else None

    def open_text(self, sealed: bytes | None, place: Place) -> str | None:
        return self.cipher.open(bytes(sealed), place).decode() if sealed else None

    def seal_json(self, value: Any, place: Place) -> bytes | None:
        if not value:
            return None
        encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return self.cipher.seal(encoded.encode(), place)

    def open_json(self, sealed: bytes | None, place: Place) -> Any:
        return json.loads(self.cipher.open(bytes(sealed), place)) if sealed else None

    def index(self, purpose: str, value: str | None) -> bytes | None:
        return self.indexer.digest(purpose, value) if value else None


# Blind index purposes, with the normalisation each lookup applies to its value.
PAYPAL_EMAIL = "payment_methods.paypal_email"


def gateway_customer_purpose(gateway: str) -> str:
    # Per gateway: the same customer id at two gateways is two different customers.
    return f"payment_methods.gateway_customer_id:{gateway}"


def normalise_email(email: str | None) -> str | None:
    return email.strip().casefold() if email else None
