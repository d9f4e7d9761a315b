"""The audit trail through the gRPC API, against the in-process server and real PostgreSQL:
each call's changes are recorded with its request id, in order, redacted; concurrent calls
leave one unbroken chain. The server's linker job chains the entries after their commit:
the trails read here are waited for until chained by it (the tests link nothing themselves)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit_chain import ChainedEntry, verify_chain
from infra.db.audit import SqlAuditReader
from payments.v1 import payment_method_service_pb2 as mpb
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_method_service_pb2_grpc import PaymentMethodServiceStub
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from payments_client import PaymentsError
from tests.e2e.helpers import attempt, create_request, new_id, rpc_error
from tests.support.audit import chained_trail

# Whoever the channel authenticates as, it is a caller of the API, never the service itself.
CALLER_KINDS = {"anonymous", "service", "user"}
# 13-19 digits, with or without spaces or dashes, standing on their own (as in a field).
CARD_LIKE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
TOKENS = ("pm_card", "tok_", "cus_", "ba_", "sk_test", "whsec_")


def with_request_id(request_id: str) -> tuple[tuple[str, str]]:
    return (("x-request-id", request_id),)


async def trail(engine: AsyncEngine, kind: str, resource_id: str) -> list[ChainedEntry]:
    """Every entry of the resource, once the server's linker has chained them all."""
    return await chained_trail(engine, kind, resource_id, link=False)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


async def test_a_lifecycle_through_the_api_is_recorded_with_request_ids(
    payments_stub: PaymentServiceStub, engine: AsyncEngine
) -> None:
    ids = {step: new_id() for step in ("create", "authorize", "capture", "refund")}
    created = await payments_stub.CreatePayment(
        create_request(request_id=new_id()), metadata=with_request_id(ids["create"])
    )
    payment_id = created.payment.payment_id
    await payments_stub.AuthorizePayment(
        pb.AuthorizePaymentRequest(payment_id=payment_id, request_id=new_id()),
        metadata=with_request_id(ids["authorize"]),
    )
    await payments_stub.CapturePayment(
        pb.CapturePaymentRequest(payment_id=payment_id, amount_minor=500, request_id=new_id()),
        metadata=with_request_id(ids["capture"]),
    )
    refunded = await payments_stub.RefundPayment(
        pb.RefundPaymentRequest(payment_id=payment_id, amount_minor=200, request_id=new_id()),
        metadata=with_request_id(ids["refund"]),
    )

    rows = await trail(engine, "payment", payment_id)
    assert [(r.entry.action, r.entry.outcome, r.entry.request_id) for r in rows] == [
        ("payment.create", "success", ids["create"]),
        ("payment.authorize", "pending", ids["authorize"]),
        ("payment.authorize", "success", ids["authorize"]),
        ("payment.capture", "pending", ids["capture"]),
        ("payment.capture", "success", ids["capture"]),
        ("payment.refund", "pending", ids["refund"]),
        ("payment.refund", "success", ids["refund"]),
    ]
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    for row in rows:
        assert row.entry.actor_kind in CALLER_KINDS
        assert "127.0.0.1" in row.entry.origin
    create, _, authorized, _, captured, _, partially_refunded = (r.entry for r in rows)
    assert create.before is None and create.after is not None
    assert (create.after["status"], create.after["amount_minor"]) == ("PENDING", 1099)
    assert authorized.before is not None and authorized.after is not None
    assert (authorized.before["status"], authorized.after["status"]) == ("PENDING", "AUTHORIZED")
    assert authorized.after["authorized_minor"] == 1099
    assert "currency" not in authorized.after  # only what changed
    assert captured.after is not None
    assert (captured.after["status"], captured.after["captured_minor"]) == ("CAPTURED", 500)
    assert partially_refunded.after is not None
    assert partially_refunded.after["status"] == "PARTIALLY_REFUNDED"
    assert partially_refunded.after["refunded_minor"] == 200

    refund_rows = await trail(engine, "refund", refunded.refund.refund_id)
    assert [(r.entry.action, r.entry.outcome, r.entry.request_id) for r in refund_rows] == [
        ("refund.create", "pending", ids["refund"]),
        ("refund.status", "success", ids["refund"]),
    ]
    assert refund_rows[1].entry.before == {"status": "PENDING"}
    assert refund_rows[1].entry.after == {"status": "PROCESSED"}


async def test_a_declined_authorization_is_recorded_as_a_failure(
    payments_stub: PaymentServiceStub, engine: AsyncEngine
) -> None:
    request_id = new_id()
    created = await payments_stub.CreatePayment(
        create_request(payment_method_token="pm_card_chargeDeclined")
    )
    error = await rpc_error(
        payments_stub.AuthorizePayment(
            pb.AuthorizePaymentRequest(payment_id=created.payment.payment_id, request_id=new_id()),
            metadata=with_request_id(request_id),
        )
    )
    assert error.reason == "CARD_DECLINED"
    last = (await trail(engine, "payment", created.payment.payment_id))[-1].entry
    assert (last.action, last.outcome, last.reason) == (
        "payment.authorize",
        "failure",
        "CARD_DECLINED",
    )
    assert last.request_id == request_id
    assert last.after is not None and last.after["status"] == "FAILED"


async def test_payment_method_changes_are_recorded_without_tokens_or_emails(
    methods_stub: PaymentMethodServiceStub, engine: AsyncEngine
) -> None:
    user = new_id()
    visa = await methods_stub.AddPaymentMethod(
        mpb.AddPaymentMethodRequest(
            user_id=user, type="PAYMENT_METHOD_TYPE_CREDIT_CARD",
            payment_method_token="pm_card_visa", request_id=new_id(),
        )
    )  # fmt: skip
    paypal = await methods_stub.AddPaymentMethod(
        mpb.AddPaymentMethodRequest(
            user_id=user, type="PAYMENT_METHOD_TYPE_PAYPAL", payment_method_token="ba_paypal_e2e",
            paypal_email="audit-buyer@example.com", set_default=True, request_id=new_id(),
        )
    )  # fmt: skip
    visa_id = visa.payment_method.payment_method_id
    paypal_id = paypal.payment_method.payment_method_id
    await methods_stub.DeletePaymentMethod(
        mpb.DeletePaymentMethodRequest(payment_method_id=paypal_id)
    )
    rows = sorted(
        [*await trail(engine, "payment_method", visa_id),
         *await trail(engine, "payment_method", paypal_id)],
        key=lambda r: r.seq,
    )  # fmt: skip
    assert [(r.entry.action, r.entry.resource_id) for r in rows] == [
        ("payment_method.add", visa_id),
        ("payment_method.clear_default", visa_id),
        ("payment_method.add", paypal_id),
        ("payment_method.remove", paypal_id),
        ("payment_method.set_default", visa_id),
    ]
    added = rows[0].entry.after
    assert added is not None
    assert (added["card_brand"], added["card_last4"], added["user_id"]) == ("visa", "4242", user)
    stored = json.dumps([(r.entry.before, r.entry.after, r.entry.reason) for r in rows])
    assert "pm_card_visa" not in stored and "ba_paypal" not in stored
    assert "audit-buyer" not in stored and "@" not in stored


async def test_concurrent_captures_and_refunds_leave_one_unbroken_chain(
    payments_stub: PaymentServiceStub, engine: AsyncEngine
) -> None:
    async def authorized() -> str:
        created = await payments_stub.CreatePayment(create_request(amount_minor=1000))
        payment_id = created.payment.payment_id
        await payments_stub.AuthorizePayment(
            pb.AuthorizePaymentRequest(payment_id=payment_id, request_id=new_id())
        )
        return payment_id

    async def call(method: str, request: object, request_id: str) -> tuple[str, bool]:
        answer = await attempt(getattr(payments_stub, method)(
            request, metadata=with_request_id(request_id)))  # fmt: skip
        return request_id, not isinstance(answer, PaymentsError)

    payment_ids = await asyncio.gather(*(authorized() for _ in range(25)))
    # 50 captures at once, two per payment: one of each pair wins.
    captures = await asyncio.gather(*(
        call("CapturePayment", pb.CapturePaymentRequest(payment_id=p, request_id=new_id()),
             new_id())
        for p in payment_ids for _ in range(2)
    ))  # fmt: skip
    # 50 partial refunds at once, two per payment: both fit.
    refunds = await asyncio.gather(*(
        call("RefundPayment",
             pb.RefundPaymentRequest(payment_id=p, amount_minor=300, request_id=new_id()),
             new_id())
        for p in payment_ids for _ in range(2)
    ))  # fmt: skip
    assert sum(ok for _, ok in captures) == 25
    assert all(ok for _, ok in refunds)

    successful = {rid for rid, ok in captures + refunds if ok}
    recorded: Counter[tuple[str, str]] = Counter()
    for payment_id in payment_ids:
        for row in await trail(engine, "payment", payment_id):
            if row.entry.outcome == "success" and row.entry.action != "payment.create":
                recorded[(row.entry.action, row.entry.request_id)] += 1
    assert Counter(action for action, _ in recorded) == {
        "payment.authorize": 25,
        "payment.capture": 25,
        "payment.refund": 50,
    }
    done = {rid for (action, rid) in recorded if action != "payment.authorize"}
    assert done == successful

    # Every entry above is chained by now: the whole chain holds.
    verifier, broken = await verify_chain(SqlAuditReader(engine, batch_size=500).in_order())
    assert broken is None, str(broken)
    assert verifier.count == verifier.head_seq  # gapless from 1


async def test_the_trail_holds_no_card_numbers_tokens_or_emails(
    methods_stub: PaymentMethodServiceStub, engine: AsyncEngine
) -> None:
    await methods_stub.AddPaymentMethod(
        mpb.AddPaymentMethodRequest(
            user_id=new_id(), type="PAYMENT_METHOD_TYPE_PAYPAL", payment_method_token="ba_x1",
            paypal_email="someone@example.org", request_id=new_id(),
        )
    )  # fmt: skip
    async with engine.connect() as conn:  # chained entries and those waiting to be
        dump = [
            row[0]
            for row in await conn.execute(
                text(
                    "SELECT (to_jsonb(a) - 'hash' - 'prev_hash')::text FROM audit_log a"
                    " UNION ALL"
                    " SELECT (to_jsonb(p) - 'content_hash' - 'tx' - 'pos')::text"
                    " FROM audit_pending p"
                )
            )
        ]
    assert dump, "the trail is empty: nothing was checked"
    for line in dump:
        for match in CARD_LIKE.finditer(line):
            digits = re.sub(r"\D", "", match.group())
            assert not luhn_valid(digits), line
        assert not EMAIL.search(line), line
        assert not any(token in line for token in TOKENS), line
