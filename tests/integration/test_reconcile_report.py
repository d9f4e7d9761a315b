"""`payment-service reconcile-report` against a localstripe of its own (nobody else's
PaymentIntents in its books) and a database of its own, with planted differences: a payment
whose amount we recorded wrongly, one whose status differs, one the gateway never saw, and a
PaymentIntent we have no payment for."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName, PaymentMethodType
from domain.gateway import AuthorizationRequest, GatewayOperationRequest
from domain.money import Money
from domain.reconciliation_report import MARGIN, RecordStatus, reconcile
from infra.db.reconciliation_records import our_records
from infra.db.tables import payments
from infra.gateways.stripe import StripeGateway
from infra.gateways.stripe_records import StripeRecordSource
from tests.support.localstripe import API_KEY, LocalStripe

PAYMENT_SERVICE = str(Path(sys.executable).parent / "payment-service")


@pytest.fixture
async def stripe_url() -> AsyncIterator[str]:
    server = LocalStripe()
    await server.start()
    yield server.url
    server.close()


def _key() -> str:
    return f"reconcile-{uuid.uuid4().hex}"


async def _authorize(gateway: StripeGateway, amount: Money) -> str:
    outcome = await gateway.authorize(
        AuthorizationRequest(
            _key(), str(uuid.uuid4()), amount, PaymentMethodType.CREDIT_CARD, "pm_card_visa"
        )
    )
    assert outcome.reference
    return outcome.reference


async def _operate(gateway: StripeGateway, name: str, intent: str, amount: Money) -> None:
    request = GatewayOperationRequest(_key(), intent, amount)
    outcome = await getattr(gateway, name)(request)
    assert outcome.reference, outcome


async def _ours(engine: AsyncEngine, rows: list[dict[str, object]]) -> None:
    now = datetime.now(UTC)
    base = {"payment_method_type": "CREDIT_CARD", "gateway": "STRIPE", "currency": "EUR",
            "created_at": now,
            "updated_at": now, "refunded_minor": 0}  # fmt: skip
    async with engine.begin() as conn:
        for row in rows:
            fields = base | {"id": str(uuid.uuid4()), "order_id": str(uuid.uuid4()),
                             "user_id": str(uuid.uuid4())} | row  # fmt: skip
            fields.setdefault("authorized_minor", fields["amount_minor"])
            await conn.execute(insert(payments).values(**fields))


async def plant(engine: AsyncEngine, stripe_url: str) -> dict[str, str]:
    """Payments at localstripe and in our database, with four planted differences. Returns
    the PaymentIntent ids by name."""
    gateway = StripeGateway(API_KEY, base_url=stripe_url)
    try:
        eur = Money(2500, "EUR")
        ids = {name: await _authorize(gateway, eur) for name in
               ("held", "captured", "refunded", "partial", "wrong_amount", "wrong_status",
                "unknown_to_us")}  # fmt: skip
        ids["jpy"] = await _authorize(gateway, Money(1200, "JPY"))
        await _operate(gateway, "capture", ids["captured"], eur)
        await _operate(gateway, "capture", ids["refunded"], eur)
        await _operate(gateway, "refund", ids["refunded"], Money(700, "EUR"))
        await _operate(gateway, "capture", ids["partial"], Money(1500, "EUR"))
        await _operate(gateway, "capture", ids["jpy"], Money(1200, "JPY"))
    finally:
        await gateway.aclose()
    captured = {"status": "CAPTURED", "amount_minor": 2500, "captured_minor": 2500}
    await _ours(engine, [
        {"gateway_payment_id": ids["held"], "status": "AUTHORIZED", "amount_minor": 2500,
         "captured_minor": 0},
        {"gateway_payment_id": ids["captured"], **captured},
        {"gateway_payment_id": ids["refunded"], **captured, "status": "PARTIALLY_REFUNDED",
         "refunded_minor": 700},
        {"gateway_payment_id": ids["partial"], "status": "CAPTURED", "amount_minor": 2500,
         "captured_minor": 1500},
        {"gateway_payment_id": ids["jpy"], "status": "CAPTURED", "currency": "JPY",
         "amount_minor": 1200, "captured_minor": 1200},
        # Planted: we think it was 25.00 + 1.00; we think it was captured; never sent.
        {"gateway_payment_id": ids["wrong_amount"], "status": "AUTHORIZED", "amount_minor": 2600,
         "captured_minor": 0},
        {"gateway_payment_id": ids["wrong_status"], **captured},
        {"gateway_payment_id": "pi_never_sent_" + uuid.uuid4().hex[:10], "status": "AUTHORIZED",
         "amount_minor": 999, "captured_minor": 0},
        # Not ours to compare: another gateway's, and one that never reached a gateway.
        {"gateway_payment_id": "PAYPAL-" + uuid.uuid4().hex, "gateway": "PAYPAL",
         "status": "AUTHORIZED", "amount_minor": 100, "captured_minor": 0},
        {"gateway_payment_id": None, "status": "PENDING", "amount_minor": 100,
         "captured_minor": 0, "authorized_minor": 0},
    ])  # fmt: skip
    return ids


def _period() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)


async def test_the_report_finds_each_planted_difference(
    own_engine: AsyncEngine, stripe_url: str
) -> None:
    ids = await plant(own_engine, stripe_url)
    start, end = _period()
    ours = await our_records(own_engine, GatewayName.STRIPE, start, end)
    source = StripeRecordSource(API_KEY, base_url=stripe_url)
    try:
        theirs = [r async for r in source.records(start - MARGIN, end + MARGIN)]
    finally:
        await source.aclose()
    report = reconcile(ours, theirs, start, end)

    assert {r.reference for r in report.matched} == {
        ids[n] for n in ("held", "captured", "refunded", "partial", "jpy")
    }
    assert {m.ours.reference: [(d.field, d.ours, d.theirs) for d in m.differences]
            for m in report.mismatched} == {
        ids["wrong_amount"]: [("amount_minor", "2600", "2500")],
        ids["wrong_status"]: [
            ("captured_minor", "2500", "0"), ("status", "CAPTURED", "AUTHORIZED"),
        ],
    }  # fmt: skip
    assert [r.amount_minor for r in report.missing_at_gateway] == [999]
    assert [r.reference for r in report.missing_here] == [ids["unknown_to_us"]]
    assert report.missing_here[0].status is RecordStatus.AUTHORIZED
    assert not report.all_match


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PAYMENT_SERVICE, "reconcile-report", *args], env=env, capture_output=True, text=True,
        check=False, timeout=120,
    )  # fmt: skip


async def test_the_command_exits_1_on_differences_and_0_when_all_match(
    own_engine: AsyncEngine, own_database_url: str, stripe_url: str
) -> None:
    ids = await plant(own_engine, stripe_url)
    env = {k: v for k, v in os.environ.items() if k != "APP_ENV"} | {
        "DATABASE_URL": own_database_url.replace("postgresql+asyncpg://", "postgresql://"),
        "STRIPE_API_KEY": API_KEY, "STRIPE_API_BASE": stripe_url, "LOG_LEVEL": "warning",
    }  # fmt: skip
    start, end = (moment.isoformat() for moment in _period())
    found = await asyncio.to_thread(
        _run, "--gateway", "stripe", "--from", start, "--to", end, "--format", "json", env=env
    )
    assert found.returncode == 1, found.stderr
    document = json.loads(found.stdout)
    assert document["summary"] == {
        "matched": 5, "mismatched": 2, "missing_at_gateway": 1, "missing_here": 1,
    }  # fmt: skip
    by_reference = {row["reference"]: row for row in document["rows"]}
    assert by_reference[ids["unknown_to_us"]]["category"] == "missing_here"
    assert by_reference[ids["wrong_amount"]]["detail"] == "amount_minor: ours 2600, gateway 2500"
    assert "reading stripe's records" in found.stderr.lower()

    table = await asyncio.to_thread(
        _run, "--gateway", "stripe", "--from", start, "--to", end, env=env
    )
    assert table.returncode == 1 and "DIFFERENCES FOUND" in table.stdout
    assert ids["wrong_status"] in table.stdout

    quiet = await asyncio.to_thread(  # a day with nothing on either side
        _run, "--gateway", "stripe", "--from", "2020-01-01", "--to", "2020-01-01",
        "--format", "csv", env=env,
    )  # fmt: skip
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.splitlines() == [
        "category,reference,payment_id,currency,amount_minor,captured_minor,refunded_minor,"
        "status,created_at,detail"
    ]
    unconfigured = await asyncio.to_thread(
        _run, "--gateway", "stripe", "--from", start, "--to", end,
        env={k: v for k, v in env.items() if k != "STRIPE_API_KEY"},
    )  # fmt: skip
    assert unconfigured.returncode == 2 and "STRIPE_API_KEY" in unconfigured.stderr
