"""`payment-service export payments`: a period's payments as CSV, read in bounded batches,
with exact decimal amounts next to the minor units."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.payment_export import PaymentExportReader
from server.export_cli import export_payments, header

PAYMENT_SERVICE = str(Path(sys.executable).parent / "payment-service")
START = datetime(2026, 3, 1, tzinfo=UTC)
# (currency, ISO 4217 exponent) in turn: two decimals, none, three.
CURRENCIES = [("EUR", 2), ("JPY", 0), ("KWD", 3)]

# One row per n in [0, count): a payment created n seconds after `start` (some of them in
# the same microsecond as another, to exercise the id tie-break), amount 1000 * n + 7.
_SEED = text(
    """
    INSERT INTO payments (id, order_id, user_id, amount_minor, authorized_minor,
        captured_minor, currency, status, payment_method_type, gateway, created_at, updated_at)
    SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 1000 * n + 7,
        1000 * n + 7, CASE WHEN n % 2 = 0 THEN 1000 * n + 7 ELSE 0 END,
        (ARRAY['EUR', 'JPY', 'KWD'])[n % 3 + 1],
        CASE WHEN n % 2 = 0 THEN 'CAPTURED' ELSE 'AUTHORIZED' END,
        'CREDIT_CARD', 'SIMULATOR',
        CAST(:start AS timestamptz) + (n / 2) * interval '1 second',
        CAST(:start AS timestamptz) + (n / 2) * interval '1 second'
    FROM generate_series(0, :count - 1) AS n
    """
)


async def seed(engine: AsyncEngine, start: datetime, count: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(_SEED, {"start": start, "count": count})


class WatchedOutput(io.StringIO):
    """Records, at every write, how many rows the reader had fetched but not yet written:
    what the export holds in memory."""

    def __init__(self, reader: PaymentExportReader) -> None:
        super().__init__()
        self._reader = reader
        self.most_held = 0

    def write(self, s: str) -> int:
        written_rows = self.getvalue().count("\n")  # header included: conservative
        self.most_held = max(self.most_held, self._reader.rows_read - written_rows)
        return super().write(s)


async def test_a_large_period_streams_in_bounded_batches_with_exact_amounts(
    own_engine: AsyncEngine,
) -> None:
    total, batch = 3001, 250
    await seed(own_engine, START - timedelta(days=1), 10)  # before the period
    await seed(own_engine, START, total)
    await seed(own_engine, START + timedelta(days=2), 10)  # after it
    reader = PaymentExportReader(own_engine, batch_size=batch)
    out, progress = WatchedOutput(reader), io.StringIO()

    count = await export_payments(reader, out, START, START + timedelta(days=1), progress)

    assert count == total
    assert reader.largest_batch == batch
    assert reader.batches_read == -(-total // batch)  # ceil: the last batch is partial
    assert out.most_held <= batch  # never more than one batch between the database and out
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == total and len({r["id"] for r in rows}) == total  # no duplicate
    assert list(rows[0]) == header()
    times = [datetime.fromisoformat(r["created_at"]) for r in rows]
    assert times == sorted(times) and times[0] == START
    exponents = dict(CURRENCIES)
    for row in rows:
        minor = int(row["amount_minor"])
        assert (minor - 7) % 1000 == 0
        assert Decimal(row["amount"]) == Decimal(minor).scaleb(-exponents[row["currency"]])
        assert int(row["captured_minor"]) in (0, minor)
    shown = {(r["currency"], r["amount_minor"]): r["amount"] for r in rows}
    assert shown[("EUR", "7")] == "0.07"
    assert shown[("JPY", "1007")] == "1007"
    assert shown[("KWD", "2007")] == "2.007"
    assert shown[("EUR", "3000007")] == "30000.07"
    assert f"exported {total} payments" in progress.getvalue()


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PAYMENT_SERVICE, *args], env=env, capture_output=True, text=True, check=False,
        timeout=120,
    )  # fmt: skip


async def test_the_command_writes_csv_to_stdout_and_progress_to_stderr(
    own_engine: AsyncEngine, own_database_url: str
) -> None:
    await seed(own_engine, datetime(2026, 4, 2, 12, tzinfo=UTC), 5)
    env = {k: v for k, v in os.environ.items() if k != "APP_ENV"}
    env |= {"DATABASE_URL": own_database_url.replace("postgresql+asyncpg://", "postgresql://")}
    done = await asyncio.to_thread(
        _run, "export", "payments", "--from", "2026-04-02", "--to", "2026-04-02",
        "--format", "csv", "--batch-size", "2", env=env | {"LOG_LEVEL": "warning"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    shown = sorted((int(r["amount_minor"]), r["amount"]) for r in rows)  # pairs share a time
    assert shown == [(7, "0.07"), (1007, "1007"), (2007, "2.007"), (3007, "30.07"), (4007, "4007")]
    assert "exported 5 payments" in done.stderr and "done: 5 payments" in done.stderr
    refused = await asyncio.to_thread(
        _run, "export", "payments", "--from", "2026-04-03", "--to", "yesterday", env=env
    )
    assert refused.returncode == 2 and "expected YYYY-MM-DD or RFC 3339" in refused.stderr
