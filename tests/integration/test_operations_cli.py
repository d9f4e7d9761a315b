"""`payment-service operations list-open | resolve` as an operator runs them, on a database
of the test's own: operations left open with an unknown outcome are listed with their age,
payment and kind, and closed with an audit entry naming the operator; the payment moves and
its event reaches the outbox as if the gateway had answered."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import PaymentStatus, TransactionStatus
from domain.gateway import GatewayOutcome
from domain.payment import Payment
from infra.db.tables import outbox
from infra.db.uow import SqlUnitOfWork
from tests.integration.test_operator_commands import libpq
from tests.integration.test_operator_commands import run as run_cli
from tests.support.audit import chained_trail
from tests.support.encryption import new_key, sealer_for
from tests.support.sensitive_rows import PersonalData, new_id, now, payment_with
from tests.support.wire import RENDER

KEYS = {"ENCRYPTION_KEY": f"k1:{new_key()}", "BLIND_INDEX_KEY": new_key()}
SEALER = sealer_for(KEYS["ENCRYPTION_KEY"], KEYS["BLIND_INDEX_KEY"])


async def payment_with_open(engine: AsyncEngine, *, capture: bool) -> tuple[Payment, str]:
    """A payment whose authorization (or, with `capture`, capture after a succeeded
    authorization) timed out: the operation is UNKNOWN. Returns it and the operation's id."""
    payment = payment_with(PersonalData.unique())
    uow = SqlUnitOfWork(engine, SEALER, RENDER)
    async with uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with uow:
        loaded = await uow.payments.get_for_update(payment.id)
        txn = loaded.begin_authorization(transaction_id=new_id(), now=now())
        if capture:
            loaded.record_authorization(txn.id, GatewayOutcome.succeeded("pi_1"), now(), new_id())
            txn = loaded.begin_capture(transaction_id=new_id(), now=now())
        loaded.mark_outcome_unknown(txn.id, now(), "the gateway did not answer in 30s")
        await uow.payments.save(loaded)
        await uow.commit()
    return payment, txn.id


async def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_cli, *args, DATABASE_URL=libpq(url), **KEYS)


async def loaded(engine: AsyncEngine, payment_id: str) -> Payment:
    async with SqlUnitOfWork(engine, SEALER, RENDER) as uow:
        return await uow.payments.get(payment_id)


async def test_list_open_shows_age_payment_and_kind(
    own_engine: AsyncEngine, own_database_url: str
) -> None:
    auth_payment, auth_txn = await payment_with_open(own_engine, capture=False)
    capture_payment, capture_txn = await payment_with_open(own_engine, capture=True)

    listed = await cli(own_database_url, "operations", "list-open", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["transactionId"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {auth_txn, capture_txn}
    assert rows[auth_txn]["paymentId"] == auth_payment.id
    assert rows[auth_txn]["kind"] == "AUTHORIZATION"
    assert rows[capture_txn]["kind"] == "CAPTURE"
    assert rows[capture_txn]["status"] == "UNKNOWN"
    assert rows[capture_txn]["amountMinor"] == 5000
    assert rows[capture_txn]["ageSeconds"] >= 0
    assert rows[capture_txn]["detail"] == "the gateway did not answer in 30s"

    table = await cli(own_database_url, "operations", "list-open", "--fail-if-any")
    assert table.returncode == 1
    assert capture_payment.id in table.stdout
    assert "2 open operation(s)" in table.stdout

    hour = str(timedelta(hours=1).total_seconds())
    young = await cli(own_database_url, "operations", "list-open", "--older-than", hour)
    assert "0 open operation(s)" in young.stdout


async def test_resolve_succeeded_captures_with_an_audit_entry(
    own_engine: AsyncEngine, own_database_url: str
) -> None:
    payment, txn_id = await payment_with_open(own_engine, capture=True)

    resolved = await cli(
        own_database_url, "operations", "resolve", txn_id, "--outcome", "succeeded",
        "--reason", "captured per the gateway dashboard", "--reference", "ch_42",
        "--operator", "alice",
    )  # fmt: skip
    assert resolved.returncode == 0, resolved.stderr
    assert f"capture {txn_id} of payment {payment.id}: UNKNOWN -> SUCCEEDED" in resolved.stdout

    after = await loaded(own_engine, payment.id)
    assert after.status is PaymentStatus.CAPTURED
    assert after.amounts.captured.amount_minor == 5000
    assert after.transaction(txn_id).gateway_transaction_id == "ch_42"
    async with own_engine.connect() as conn:
        types = (await conn.execute(select(outbox.c.event_type).where(
            outbox.c.aggregate_id == payment.id))).scalars().all()  # fmt: skip
    assert "payment.successful" in types

    trail = await chained_trail(own_engine, "payment", payment.id)
    [entry] = [c.entry for c in trail if c.entry.action == "admin.operation.resolve"]
    assert entry.actor_subject == "operator:alice"
    assert entry.reason == "captured per the gateway dashboard"

    again = await cli(
        own_database_url, "operations", "resolve", txn_id, "--outcome", "failed", "--reason", "x"
    )
    assert again.returncode == 2
    assert f"no open operation {txn_id}" in again.stderr
    assert (await loaded(own_engine, payment.id)).status is PaymentStatus.CAPTURED


async def test_resolve_failed_fails_the_authorization(
    own_engine: AsyncEngine, own_database_url: str
) -> None:
    payment, txn_id = await payment_with_open(own_engine, capture=False)
    missing_reason = await cli(
        own_database_url, "operations", "resolve", txn_id, "--outcome", "failed"
    )
    assert missing_reason.returncode == 2
    assert "--reason is required" in missing_reason.stderr

    resolved = await cli(
        own_database_url, "operations", "resolve", txn_id, "--outcome", "failed",
        "--reason", "the gateway support says it was never authorized",
    )  # fmt: skip
    assert resolved.returncode == 0, resolved.stderr
    after = await loaded(own_engine, payment.id)
    assert after.status is PaymentStatus.FAILED
    assert after.transaction(txn_id).status is TransactionStatus.FAILED
    assert after.transaction(txn_id).failure_code == "RESOLVED_BY_OPERATOR"


async def test_a_succeeded_authorization_needs_the_gateway_reference(
    own_engine: AsyncEngine, own_database_url: str
) -> None:
    payment, txn_id = await payment_with_open(own_engine, capture=False)
    args = ("operations", "resolve", txn_id, "--outcome", "succeeded", "--reason", "seen")
    refused = await cli(own_database_url, *args)
    assert refused.returncode == 2
    assert "VALIDATION_FAILED: reference the gateway's id" in refused.stderr
    assert (await loaded(own_engine, payment.id)).transaction(txn_id).is_open

    resolved = await cli(own_database_url, *args, "--reference", "pi_seen_42")
    assert resolved.returncode == 0, resolved.stderr
    after = await loaded(own_engine, payment.id)
    assert after.status is PaymentStatus.AUTHORIZED
    assert after.gateway_payment_id == "pi_seen_42"


async def test_resolve_by_asking_the_gateway(
    own_engine: AsyncEngine, own_database_url: str
) -> None:
    """The simulator (its ledger in this database) never received this authorization: asked,
    it says so, and the operation is closed as not done."""
    payment, txn_id = await payment_with_open(own_engine, capture=False)
    resolved = await asyncio.to_thread(
        run_cli, "operations", "resolve", txn_id, "--ask-gateway",
        DATABASE_URL=libpq(own_database_url), SIMULATOR_LEDGER="database", **KEYS,
    )  # fmt: skip
    assert resolved.returncode == 0, resolved.stderr
    assert "UNKNOWN -> FAILED" in resolved.stdout
    listed = await cli(own_database_url, "operations", "list-open", "--format", "json")
    assert txn_id not in {row["transactionId"] for row in json.loads(listed.stdout)}
    assert not (await loaded(own_engine, payment.id)).transaction(txn_id).is_open


async def test_resolve_refuses_what_is_not_a_transaction_id(own_database_url: str) -> None:
    refused = await cli(own_database_url, "operations", "resolve", "nope", "--ask-gateway")
    assert refused.returncode == 2
    assert "must be a transaction id" in refused.stderr
