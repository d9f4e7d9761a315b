"""The operators' commands as they are run: `payment-service rotate-keys`,
`payment-service retention run`, and the refusal to run in production without keys."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.uow import SqlUnitOfWork
from tests.support.encryption import new_key, sealer_for
from tests.support.sensitive_rows import (
    PersonalData,
    now,
    paypal_method,
    store_method,
    store_refunded_payment,
)
from tests.support.wire import RENDER

PAYMENT_SERVICE = str(Path(sys.executable).parent / "payment-service")
EIGHT_YEARS = timedelta(days=8 * 365)
KEY_NAMES = ("ENCRYPTION_KEY", "ENCRYPTION_KEY_FILE", "BLIND_INDEX_KEY", "BLIND_INDEX_KEY_FILE")


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in (*KEY_NAMES, "APP_ENV")}
    return subprocess.run(
        [PAYMENT_SERVICE, *args],
        env=base | {"LOG_LEVEL": "warning"} | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def test_rotate_keys_reports_the_keys_still_in_use(
    own_engine: AsyncEngine, own_database_url: str
) -> None:
    k1, k2, index_key = f"k1:{new_key()}", f"k2:{new_key()}", new_key()
    data = PersonalData.unique()
    method = paypal_method(data)
    await store_method(own_engine, sealer_for(k1, index_key), method)
    env = {"DATABASE_URL": libpq(own_database_url), "BLIND_INDEX_KEY": index_key}

    before = await asyncio.to_thread(run, "rotate-keys", ENCRYPTION_KEY=k1, **env)
    assert before.returncode == 0, before.stderr
    assert "values per key: k1 2" in before.stdout
    assert "rotate-keys: payment_methods " in before.stderr  # progress, apart from the report

    rotated = await asyncio.to_thread(run, "rotate-keys", ENCRYPTION_KEY=f"{k2}\n{k1}", **env)
    assert rotated.returncode == 0, rotated.stderr
    assert "active key: k2" in rotated.stdout
    assert "values per key: k2 2" in rotated.stdout
    assert "keys in the ring no longer used (may be retired): k1" in rotated.stdout
    assert data.email not in rotated.stdout + rotated.stderr
    async with SqlUnitOfWork(own_engine, sealer_for(k2, index_key), RENDER) as uow:
        assert (await uow.payment_methods.get(method.id)).paypal_email == data.email

    unknown = await asyncio.to_thread(run, "rotate-keys", ENCRYPTION_KEY=f"k3:{new_key()}", **env)
    assert unknown.returncode == 1
    assert "sealed with key 'k2', which is not in the key ring" in unknown.stdout


async def test_retention_run_applies_the_policies_once(
    own_engine: AsyncEngine, own_database_url: str
) -> None:
    ring, index_key = f"k1:{new_key()}", new_key()
    sealer = sealer_for(ring, index_key)
    old, _ = await store_refunded_payment(
        own_engine, sealer, PersonalData.unique(), created_at=now() - EIGHT_YEARS
    )
    env = {
        "DATABASE_URL": libpq(own_database_url),
        "ENCRYPTION_KEY": ring,
        "BLIND_INDEX_KEY": index_key,
    }
    result = await asyncio.to_thread(run, "retention", "run", **env)
    assert result.returncode == 0, result.stderr
    assert "anonymised 1 payments" in result.stdout
    assert "retention run: payments anonymised 1" in result.stderr  # progress
    async with SqlUnitOfWork(own_engine, sealer, RENDER) as uow:
        assert (await uow.payments.get(old.id)).metadata == {}


@pytest.mark.parametrize("command", [["check-config"], ["serve"]])
def test_production_without_keys_refuses_to_start(command: list[str]) -> None:
    result = run(
        *command, APP_ENV="production", DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"
    )
    assert result.returncode == 2
    for missing in ("ENCRYPTION_KEY or ENCRYPTION_KEY_FILE", "JWT_JWKS_FILE or JWT_JWKS_URL"):
        assert f"{missing} is required when APP_ENV=production" in result.stderr
