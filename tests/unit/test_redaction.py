"""The log redaction filter: a log record carrying a card number, a token, a key, a password
or an authorization header comes out masked, in its message, its arguments, its exception
text and its extra fields; and start-up installs it on every handler."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.validation import contains_card_number
from server import logs
from server.redaction import RedactingFilter, redact, redact_fully

JWT = (
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJzY29wZSI6ImFkbWluIn0."
    "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)
# Each: (text, the secret part that must be gone, what must remain).
CASES = [
    ("card 4242 4242 4242 4242 declined", "4242 4242 4242 4242", "card ****4242 declined"),
    ("pan=4000-0566-5566-5556;", "4000-0566-5566-5556", "****5556"),
    ("number 5555555555554444 exp 12/30", "5555555555554444", "****4444"),
    ("Authorization: Bearer abc.def-ghi", "abc.def-ghi", "Authorization: ****"),
    ("headers [('authorization', 'Basic dXNlcjpwYXNzd29yZA==')]", "dXNlcjpwYXNz", "****"),
    ('{"authorization": "Token s3cr3t-value"}', "s3cr3t-value", '"authorization": "****"'),
    ("calling with bearer tok_9f8e7d6c5b", "tok_9f8e7d6c5b", "bearer ****"),
    (f"token is {JWT} ok", JWT, "****jwt ok"),
    ("stripe key sk_live_51Habcdefghijklmnop", "51Habcdefghijklmnop", "sk_live_****"),
    ("restricted rk_test_abcdef123456", "abcdef123456", "rk_test_****"),
    ("webhook secret whsec_abcDEF123456", "abcDEF123456", "whsec_****"),
    ("db postgresql://pay:hunter2@db:5432/p", "hunter2", "postgresql://pay:****@db:5432/p"),
    ("cache rediss://:s3cret@redis:6380/0", "s3cret", "rediss://:****@redis"),
    ("password=hunter2 user=bob", "hunter2", "password=**** user=bob"),
    ('{"api_key": "AKIA-xyz-123", "n": 1}', "AKIA-xyz-123", '"api_key": "****"'),
    ("client_secret: abc123def next", "abc123def", "client_secret: **** next"),
    ("refresh_token='r-0987' done", "r-0987", "refresh_token='****' done"),
    ("STRIPE_WEBHOOK_SECRET=whsec_x1y2", "x1y2", "STRIPE_WEBHOOK_SECRET=****"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), CASES, ids=[c[2] for c in CASES])
def test_each_kind_of_secret_is_masked(text: str, secret: str, kept: str) -> None:
    masked = redact(text)
    assert secret not in masked
    assert kept in masked


@pytest.mark.parametrize(
    "text",
    [
        "rpc /payments.v1.PaymentService/CreatePayment OK 3.1ms",
        "payment 11111111-1111-4111-8111-111111111111 captured 1099 EUR",
        "gRPC server listening",
        "circuit of STRIPE opened after 5 failures",
    ],
)
def test_ordinary_lines_are_unchanged(text: str) -> None:
    assert redact(text) == text


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing JSON lines through a handler with the filter, as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("payments.test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_message_arguments_are_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("charging %s with %s", "4242424242424242", {"password": "hunter2"})
    line = json.loads(stream.getvalue())
    assert line["message"] == "charging ****4242 with {'password': '****'}"


def test_exception_text_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError("gateway said: card 4000 0566 5566 5556, key sk_test_abcdef123")
    except ValueError:
        logger.exception("call failed for %s", "Bearer abc.def")
    line = json.loads(stream.getvalue())
    assert line["message"] == "call failed for Bearer ****"
    assert "ValueError: gateway said: card ****5556, key sk_test_****" in line["exception"]
    assert "abcdef123" not in stream.getvalue()
    assert not contains_card_number(stream.getvalue())


def test_extra_fields_are_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.warning(
        "webhook",
        extra={
            "payload": {"card": "5555 5555 5555 4444", "nested": [{"api_key": "k-1"}]},
            "api_token": "tok-secret",
            "note": f"jwt {JWT}",
            "attempt": 3,
        },
    )
    line = json.loads(stream.getvalue())
    assert line["payload"] == {"card": "****4444", "nested": [{"api_key": "****"}]}
    assert line["api_token"] == "****"
    assert line["note"] == "jwt ****jwt"
    assert line["attempt"] == 3


def test_stack_text_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("where am I", stack_info=True)  # the stack shows this line: password=hunter2
    line = json.loads(stream.getvalue())
    assert "password=****" in line["stack"]
    assert "hunter2" not in line["stack"]


def test_start_up_installs_the_filter_on_every_handler() -> None:
    """logs.configure puts the filter on the root handler and on handlers a library added
    to its own logger before start-up."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    library = logging.getLogger("payments.test.some_library")
    library_stream = io.StringIO()
    library_handler = logging.StreamHandler(library_stream)
    library.addHandler(library_handler)
    library.propagate = False
    try:
        logs.configure("info")
        [root_handler] = root.handlers
        assert any(isinstance(f, RedactingFilter) for f in root_handler.filters)
        library.warning("library saw card %s", "4242-4242-4242-4242")
        assert library_stream.getvalue() == "library saw card ****4242\n"
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        library.removeHandler(library_handler)


FRAGMENTS = st.sampled_from(
    [
        "authorization", "Authorization: ", "Bearer ", "bearer", "Basic ", "dXNlcjpwYXNzd29yZA==",
        "eyJ", "eyJhbGciOi.eyJzdWIi.c2ln", "sk_live_", "rk_test_", "whsec_", "abc123", "://",
        "postgresql://u:", "pw@", "password", "=", ": ", '"', "'", "api-key", "Session_Id",
        "COOKIE", "4242", "4242 ", "1", "-", " ", "x", ".", "\u0664\u0662",
        # Letters outside ASCII that the rules match ignoring case: the long s, dotted I.
        "\u017fecret", "credent\u0130al=",
    ]
)  # fmt: skip


@given(st.lists(FRAGMENTS, max_size=12).map("".join))
def test_the_quick_look_changes_nothing_that_the_rules_would_not(text: str) -> None:
    assert redact(text) == redact_fully(text)
