"""`payment-service export payments --from DATE --to DATE --format csv [--output FILE]`:
every payment created in the period, for finance, streamed.

Rows are read in keyset batches (infra/db/payment_export.py) and each batch is written
before the next is read: memory stays bounded by --batch-size however long the period.
Amounts come twice, as the stored integer of minor units and as an exact decimal in major
units at the currency's ISO 4217 exponent (1099 EUR -> 10.99, 1099 JPY -> 1099, 1099 KWD ->
1.099): a spreadsheet that mangles one can be checked against the other. Never a float.
Progress goes to stderr, the CSV to stdout or --output.

--from is inclusive, --to exclusive; a plain date (2026-12-01) is midnight UTC, except that
--to DATE includes that whole day (it means the next midnight).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import RowMapping

from domain.money import Money
from infra.currency import Iso4217CurrencyCatalog
from infra.db.engine import make_engine
from infra.db.payment_export import EXPORTED_COLUMNS, PaymentExportReader

# The amounts shown both ways: (minor-units column, its currency column).
_AMOUNTS = {
    "amount_minor": "currency",
    "authorized_minor": "currency",
    "captured_minor": "currency",
    "refunded_minor": "currency",
    "settlement_amount_minor": "settlement_currency",
    "captured_settlement_minor": "settlement_currency",
    "refunded_settlement_minor": "settlement_currency",
}


def header() -> list[str]:
    names: list[str] = []
    for column in EXPORTED_COLUMNS:
        names.append(column)
        if column in _AMOUNTS:
            names.append(column.removesuffix("_minor"))  # amount, captured, ...
    return names


def parse_moment(text: str, *, end: bool) -> datetime:
    """A date or an RFC 3339 timestamp (with offset); see the module's docstring."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        moment = datetime.combine(day, time(), tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected YYYY-MM-DD or RFC 3339") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: a timestamp needs its offset (Z, +01:00)")
    return moment


def add_export_commands(sub: Any) -> None:
    export = sub.add_parser("export", help="export data for finance")
    kinds = export.add_subparsers(dest="export_command", required=True)
    pay = kinds.add_parser("payments", help="the payments created in a period, as CSV")
    pay.add_argument(
        "--from", dest="start", required=True, type=lambda t: parse_moment(t, end=False)
    )
    pay.add_argument("--to", dest="end", required=True, type=lambda t: parse_moment(t, end=True))
    pay.add_argument("--format", choices=["csv"], default="csv")
    pay.add_argument("--output", help="write to this file instead of stdout")
    pay.add_argument("--batch-size", type=int, default=1000, help="rows read per query")


class CsvPaymentWriter:
    """Turns exported rows into CSV lines with decimal amounts."""

    def __init__(self, out: IO[str], currencies: Iso4217CurrencyCatalog) -> None:
        self._csv = csv.writer(out, lineterminator="\n")
        self._currencies = currencies
        self.unknown_currencies: set[str] = set()

    def write_header(self) -> None:
        self._csv.writerow(header())

    def _decimal(self, minor: int | None, currency: str | None) -> str:
        if minor is None or not currency:
            return ""
        exponent = self._currencies.exponent(currency)
        if exponent is None:  # a code withdrawn since: the minor units still say it all
            self.unknown_currencies.add(currency)
            return ""
        value: Decimal = Money(minor, currency).to_decimal(exponent)
        return format(value, "f")

    def write(self, row: RowMapping | Mapping[str, Any]) -> None:
        cells: list[str] = []
        for column in EXPORTED_COLUMNS:
            value = row[column]
            cells.append(value.isoformat() if isinstance(value, datetime) else _text(value))
            if column in _AMOUNTS:
                cells.append(self._decimal(value, row[_AMOUNTS[column]]))
        self._csv.writerow(cells)


def _text(value: object) -> str:
    return "" if value is None else str(value)


async def export_payments(
    reader: PaymentExportReader, out: IO[str], start: datetime, end: datetime, progress: IO[str]
) -> int:
    """Writes the CSV; returns the number of payments exported."""
    writer = CsvPaymentWriter(out, Iso4217CurrencyCatalog())
    writer.write_header()
    async for batch in reader.batches(start, end):
        for row in batch:
            writer.write(row)
        out.flush()
        print(f"exported {reader.rows_read} payments", file=progress)
    if writer.unknown_currencies:
        codes = ", ".join(sorted(writer.unknown_currencies))
        print(f"no ISO 4217 exponent for {codes}: decimal columns left empty", file=progress)
    return reader.rows_read


async def _export(args: argparse.Namespace, database_url: str, out: IO[str]) -> int:
    engine = make_engine(database_url, pool_size=1)
    try:
        reader = PaymentExportReader(engine, batch_size=max(1, args.batch_size))
        return await export_payments(reader, out, args.start, args.end, sys.stderr)
    finally:
        await engine.dispose()


def run_export(args: argparse.Namespace, database_url: str) -> int:
    if args.start >= args.end:
        print("--from must be before --to", file=sys.stderr)
        return 2
    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as out:
            count = asyncio.run(_export(args, database_url, out))
    else:
        count = asyncio.run(_export(args, database_url, sys.stdout))
    print(f"done: {count} payments from {args.start.isoformat()} to {args.end.isoformat()}",
          file=sys.stderr)  # fmt: skip
    return 0
