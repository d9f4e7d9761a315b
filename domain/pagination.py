"""Keyset pagination shared by list use cases. Tokens are opaque to callers."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from domain.errors import FieldViolation, ValidationFailed

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after the last item seen: ordered by (created_at, id)."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps({"t": self.created_at.isoformat(), "i": self.id}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
            return cls(datetime.fromisoformat(data["t"]), str(data["i"]))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ValidationFailed(
                [FieldViolation("page_token", "is not a token returned by this API")]
            ) from exc


@dataclass(frozen=True, slots=True)
class PageRequest:
    size: int
    after: Cursor | None

    @classmethod
    def parse(cls, page_size: int, page_token: str) -> PageRequest:
        if page_size < 0:
            raise ValidationFailed([FieldViolation("page_size", "must not be negative")])
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        return cls(size, Cursor.decode(page_token) if page_token else None)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: Cursor | None

    @property
    def next_page_token(self) -> str:
        return self.next_cursor.encode() if self.next_cursor else ""
