"""The reconciliation report against the simulator's ledger in PostgreSQL (the book
`SIMULATOR_LEDGER=database` keeps), through the command as operators run it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import PaymentMethodType
from domain.gateway import AuthorizationRequest, GatewayOperationRequest
from domain.money import Money
from infra.db.tables import payments
from infra.gateways.simulator import SimulatorGateway
from infra.gateways.simulator_ledger import SqlLedger

PAYMENT_SERVICE = str(Path(sys.executable).parent / "payment-service")


async def _charge(gateway: SimulatorGateway, token: str, amount: Money) -> str:
    outcome = await gateway.authorize(
        AuthorizationRequest(
            uuid.uuid4().hex, str(uuid.uuid4()), amount, PaymentMethodType.CREDIT_CARD, token
        )
    )
    assert outcome.reference
    return outcome.reference


async def test_the_command_compares_with_the_simulators_ledger(
    own_engine: AsyncEngine, own_database_url: str
) -> None:
    gateway = SimulatorGateway(ledger=SqlLedger(own_engine))
    eur = Money(1500, "EUR")
    captured = await _charge(gateway, "pm_card_visa", eur)
    await gateway.capture(GatewayOperationRequest(uuid.uuid4().hex, captured, eur))
    declined = await _charge(gateway, "pm_card_chargeDeclined", eur)
    held = await _charge(gateway, "pm_card_visa", eur)
    unknown = await _charge(gateway, "pm_card_visa", eur)
    now = datetime.now(UTC)
    rows = [
        (captured, "CAPTURED", 1500),
        (declined, "FAILED", 0),
        (held, "CAPTURED", 1500),  # planted: we think it was captured
    ]
    async with own_engine.begin() as conn:
        for reference, status, captured_minor in rows:
            await conn.execute(insert(payments).values(
                id=str(uuid.uuid4()), order_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()),
                amount_minor=1500, authorized_minor=1500 if status != "FAILED" else 0,
                captured_minor=captured_minor, currency="EUR", status=status,
                payment_method_type="CREDIT_CARD", gateway="SIMULATOR",
                gateway_payment_id=reference, created_at=now, updated_at=now,
            ))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "APP_ENV"} | {
        "DATABASE_URL": own_database_url.replace("postgresql+asyncpg://", "postgresql://"),
        "SIMULATOR_LEDGER": "database", "LOG_LEVEL": "warning",
    }  # fmt: skip
    start = (now - timedelta(minutes=5)).isoformat()
    end = (now + timedelta(minutes=5)).isoformat()
    done = await asyncio.to_thread(
        subprocess.run,
        [PAYMENT_SERVICE, "reconcile-report", "--gateway", "simulator", "--from", start,
         "--to", end, "--format", "json"],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["summary"] == {
        "matched": 2, "mismatched": 1, "missing_at_gateway": 0, "missing_here": 1,
    }  # fmt: skip
    categories = {row["reference"]: row["category"] for row in document["rows"]}
    assert categories == {captured: "match", declined: "match", held: "mismatch",
                          unknown: "missing_here"}  # fmt: skip
