from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import ValidationFailed
from domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Cursor, Page, PageRequest

PROPERTY = settings(max_examples=150, deadline=None)

offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)
cursors = st.builds(
    Cursor,
    created_at=st.datetimes(timezones=offsets),
    id=st.one_of(st.uuids().map(str), st.text(max_size=40)),
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@PROPERTY
@given(cursors)
def test_cursor_round_trip(cursor: Cursor) -> None:
    token = cursor.encode()
    decoded = Cursor.decode(token)
    assert decoded == cursor
    assert decoded.created_at.utcoffset() == cursor.created_at.utcoffset()
    assert re.fullmatch(r"[A-Za-z0-9_\-]+", token)  # URL safe, no padding to escape


def _assert_rejected(token: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        Cursor.decode(token)
    assert [v.field for v in caught.value.violations] == ["page_token"]
    assert caught.value.reason == "VALIDATION_FAILED"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!",
        "a",
        "€uro",
        _b64(b"not json"),
        _b64(b"\xff\xfe"),
        _b64(b"[1, 2]"),
        _b64(b'"just a string"'),
        _b64(b"null"),
        _b64(b"42"),
        _b64(json.dumps({"i": "x"}).encode()),
        _b64(json.dumps({"t": "2025-01-01T00:00:00+00:00"}).encode()),
        _b64(json.dumps({"t": "yesterday", "i": "x"}).encode()),
        _b64(json.dumps({"t": 1700000000, "i": "x"}).encode()),
    ],
)
def test_garbage_tokens_name_page_token(token: str) -> None:
    _assert_rejected(token)


@PROPERTY
@given(st.one_of(st.text(max_size=60), st.binary(max_size=60).map(_b64)))
def test_decode_never_fails_with_anything_but_validation_failed(token: str) -> None:
    try:
        cursor = Cursor.decode(token)
    except ValidationFailed as error:
        assert [v.field for v in error.violations] == ["page_token"]
    else:
        assert isinstance(cursor.created_at, datetime)


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, DEFAULT_PAGE_SIZE), (1, 1), (MAX_PAGE_SIZE, MAX_PAGE_SIZE), (10_000, MAX_PAGE_SIZE)],
)
def test_page_size_defaults_and_is_capped(size: int, expected: int) -> None:
    request = PageRequest.parse(size, "")
    assert request.size == expected
    assert request.after is None


def test_negative_page_size_is_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        PageRequest.parse(-1, "")
    assert [v.field for v in caught.value.violations] == ["page_size"]


def test_page_request_carries_the_decoded_cursor() -> None:
    cursor = Cursor(datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "abc")
    assert PageRequest.parse(10, cursor.encode()).after == cursor
    _assert_rejected("%%%")


def test_page_next_token() -> None:
    cursor = Cursor(datetime(2025, 1, 2, tzinfo=UTC), "last")
    assert Page([1, 2], cursor).next_page_token == cursor.encode()
    assert Page([1, 2], None).next_page_token == ""
