"""The reconciliation report against the fake PayPal's transaction search, with planted
differences: a refund we did not record, an authorization we think was voided, a payment
PayPal never authorized, and a PayPal authorization we have no payment for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from domain.money import Money
from domain.reconciliation_report import MARGIN, RecordStatus, expected_at, reconcile
from infra.db.reconciliation_records import our_records
from infra.db.tables import payments
from infra.gateways.paypal import PayPalGateway
from infra.gateways.paypal_client import PayPalClient
from infra.gateways.paypal_records import PayPalRecordSource
from tests.fakes.paypal_scenarios import authorized_order, operation
from tests.fakes.paypal_server import FakePayPal
from tests.fakes.paypal_transactions import search


async def _ours(engine: AsyncEngine, rows: list[dict[str, object]]) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        for row in rows:
            fields = {
                "id": str(uuid.uuid4()), "order_id": str(uuid.uuid4()),
                "user_id": str(uuid.uuid4()), "payment_method_type": "PAYPAL",
                "gateway": "PAYPAL", "currency": "EUR", "created_at": now, "updated_at": now,
                "refunded_minor": 0, "captured_minor": 0,
            } | row  # fmt: skip
            fields.setdefault("authorized_minor", fields["amount_minor"])
            await conn.execute(insert(payments).values(**fields))


async def test_the_report_finds_each_planted_difference(
    own_engine: AsyncEngine, gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    eur = Money(4000, "EUR")
    names = ("held", "captured", "refunded", "voided", "not_voided", "stranger")
    orders = {name: await authorized_order(gateway, paypal, eur) for name in names}
    await gateway.capture(operation(orders["captured"], eur))
    captured = await gateway.capture(operation(orders["refunded"], eur))
    await gateway.refund(operation(orders["refunded"], Money(1250, "EUR"), captured.reference))
    await gateway.void(operation(orders["voided"], eur))
    await gateway.void(operation(orders["not_voided"], eur))
    await _ours(own_engine, [
        {"gateway_payment_id": orders["held"], "status": "AUTHORIZED", "amount_minor": 4000},
        {"gateway_payment_id": orders["captured"], "status": "CAPTURED", "amount_minor": 4000,
         "captured_minor": 4000},
        # Planted: the refund of 12.50 is missing from our books.
        {"gateway_payment_id": orders["refunded"], "status": "CAPTURED", "amount_minor": 4000,
         "captured_minor": 4000},
        {"gateway_payment_id": orders["voided"], "status": "CANCELLED", "amount_minor": 4000,
         "authorized_minor": 0},
        # Planted: we think it is still held; and one PayPal never authorized.
        {"gateway_payment_id": orders["not_voided"], "status": "AUTHORIZED", "amount_minor": 4000},
        {"gateway_payment_id": "NEVERAUTHORIZED1", "status": "AUTHORIZED", "amount_minor": 500},
        # Waiting for the buyer: not in a list of money events, so not expected there.
        {"gateway_payment_id": "WAITINGFORBUYER1", "status": "REQUIRES_ACTION",
         "amount_minor": 700, "authorized_minor": 0},
    ])  # fmt: skip
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    source = PayPalRecordSource(PayPalClient("fake-client-id", "fake-client-secret",
                                             base_url=paypal.url))  # fmt: skip
    try:
        ours = expected_at(source, await our_records(own_engine, GatewayName.PAYPAL, start, end))
        theirs = [r async for r in source.records(start - MARGIN, end + MARGIN)]
    finally:
        await source.aclose()
    report = reconcile(ours, theirs, start, end)

    assert {r.reference for r in report.matched} == {
        orders[n] for n in ("held", "captured", "voided")
    }
    assert {m.ours.reference: [(d.field, d.ours, d.theirs) for d in m.differences]
            for m in report.mismatched} == {
        orders["refunded"]: [("refunded_minor", "0", "1250")],
        orders["not_voided"]: [("status", "AUTHORIZED", "CANCELLED")],
    }  # fmt: skip
    assert [r.reference for r in report.missing_at_gateway] == ["NEVERAUTHORIZED1"]
    assert [r.reference for r in report.missing_here] == [orders["stranger"]]
    assert report.missing_here[0].status is RecordStatus.AUTHORIZED
    searches = [r for r in paypal.requests if r.path == "/v1/reporting/transactions"]
    assert searches  # through the transaction search API, not the orders


def test_the_fake_search_refuses_what_paypal_refuses() -> None:
    too_long = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-03-01T00:00:00Z"}
    assert search(too_long, []).status == 400
    assert search({"start_date": "2026-01-01T00:00:00Z"}, []).status == 400
    fine = search(too_long | {"end_date": "2026-01-20T00:00:00Z"}, [])
    assert (fine.status, fine.body["total_items"], fine.body["total_pages"]) == (200, 0, 1)
