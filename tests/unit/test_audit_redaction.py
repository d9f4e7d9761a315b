"""What may enter the audit trail: redaction of free values, and how entries are staged."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain import audit_redaction
from domain.actor import Actor, ActorKind
from domain.audit import AuditOutcome, new_entry
from domain.audit_redaction import REDACTED, redact, redact_text
from domain.changes import ChangeTracker
from domain.enums import PaymentStatus

WHEN = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ADMIN = Actor(ActorKind.USER, "admin-7", frozenset({"admin"}), "req-9", "ipv4:10.1.1.1:443")


@pytest.mark.parametrize(
    "text",
    [
        "card 4242424242424242 used",
        "card 4242 4242 4242 4242 used",
        "card 4000-0566-5566-5556 used",
        "amex 378282246310005",
        "mail buyer@example.com please",
        "token pm_card_visa",
        "customer cus_NffrFeUfNV2Hib",
        "key sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "header Bearer abc.def.ghi",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    ],
)
def test_card_numbers_tokens_and_emails_are_masked(text: str) -> None:
    masked = redact_text(text)
    assert REDACTED in masked
    for secret in ("4242", "0566", "378282", "buyer@", "pm_card", "cus_N", "sk_test", "abc.def"):
        assert secret not in masked
    assert "eyJ" not in masked


def test_ids_codes_and_short_numbers_are_kept() -> None:
    for text in (
        "00000000-0000-0000-0000-000000000001",
        "6f1c2b1e-0d5e-4a53-9f55-3a1d4c9b7e01",
        "CARD_DECLINED",
        "order 12345",
        "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "visa 4242",
    ):
        assert redact_text(text) == text


def test_fields_named_like_secrets_are_replaced_whole() -> None:
    fields = redact(
        {
            "payment_method_token": "anything",
            "paypal_email": "x",
            "gateway_customer_id": "abc",
            "api_key": "k",
            "card_number": "1",
            "status": PaymentStatus.CAPTURED,
            "card_last4": "4242",
            "nested": {"client_secret": "s", "amount_minor": 5},
            "cleared_token": None,
        }
    )
    assert fields == {
        "payment_method_token": REDACTED,
        "paypal_email": REDACTED,
        "gateway_customer_id": REDACTED,
        "api_key": REDACTED,
        "card_number": REDACTED,
        "status": "CAPTURED",
        "card_last4": "4242",
        "nested": {"client_secret": REDACTED, "amount_minor": 5},
        "cleared_token": None,
    }


def test_values_become_plain_json_that_survives_jsonb() -> None:
    fields = redact({"ratio": 0.1, "big": 10**20, "when": WHEN, "d": Decimal("1.10"),
                     "tags": ("a", "b"), "nul": "a\x00b", "ok": True})  # fmt: skip
    assert fields == {
        "ratio": "0.1",
        "big": 10**20,
        "when": "2025-03-01T09:00:00+00:00",
        "d": "1.10",
        "tags": ["a", "b"],
        "nul": "ab",
        "ok": True,
    }


def test_a_fact_takes_the_trackers_actor_and_redacts() -> None:
    changes = ChangeTracker(ADMIN, lambda: WHEN)
    changes.fact(
        "admin.fraud_review.approve",
        "payment",
        "p-1",
        reason="approved after a call with buyer@example.com",
        after={"status": "AUTHORIZED"},
    )
    _, [entry] = changes.collect()
    assert changes.collect() == ([], [])
    assert (entry.actor_kind, entry.actor_subject) == ("user", "admin-7")
    assert (entry.request_id, entry.origin) == ("req-9", "ipv4:10.1.1.1:443")
    assert (entry.outcome, entry.occurred_at) == ("success", WHEN)
    assert entry.reason == f"approved after a call with {REDACTED}"
    assert entry.before is None and entry.after == {"status": "AUTHORIZED"}


def test_actions_are_noun_dot_verb_and_texts_are_bounded() -> None:
    with pytest.raises(ValueError, match=r"noun\.verb"):
        new_entry("Capture!", "payment", "p", actor=ADMIN, occurred_at=WHEN)
    long = new_entry(
        "payment.capture",
        "payment",
        "p" * 1000,
        actor=ADMIN,
        occurred_at=WHEN,
        outcome=AuditOutcome.FAILURE,
        reason="x" * 1000,
    )
    assert len(long.resource_id) == 200 and long.reason is not None and len(long.reason) == 200


def test_the_clean_text_memo_holds_clean_texts_only() -> None:
    card = "4242 4242 4242 4242"
    for _ in range(2):  # the second time too: nothing was remembered as clean
        assert redact_text(f"card {card}") == f"card {REDACTED}"
        assert redact_text("PAYMENT_STATUS_CAPTURED") == "PAYMENT_STATUS_CAPTURED"
    assert "PAYMENT_STATUS_CAPTURED" in audit_redaction._CLEAN
    assert not any(card in text for text in audit_redaction._CLEAN)
