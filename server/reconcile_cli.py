"""`payment-service reconcile-report --gateway stripe|paypal|simulator --from DATE --to DATE
[--format table|json|csv]`: our payments of the period against the gateway's own records.

Lists what matches, what the gateway has that we don't, what we have that the gateway
doesn't, and amount or status mismatches (domain/reconciliation_report.py). Exit status 0
when everything matches, 1 otherwise (2: the command could not run). Progress goes to stderr,
the report to stdout. Dates as for `export payments`: --from inclusive, --to exclusive, a
plain --to date includes that day. Reads only: nothing is changed here or at the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from domain.reconciliation_report import (
    MARGIN,
    GatewayRecordSource,
    PaymentRecord,
    ReconciliationReport,
    expected_at,
    reconcile,
)
from infra.db.engine import make_engine
from infra.db.reconciliation_records import our_records
from server.config import Settings
from server.export_cli import parse_moment

EXIT_MISMATCH = 1
EXIT_CANNOT_RUN = 2


def add_reconcile_report_parser(sub: Any) -> None:
    report = sub.add_parser("reconcile-report", help="compare a period with a gateway's records")
    report.add_argument("--gateway", required=True, choices=["stripe", "paypal", "simulator"])
    report.add_argument("--from", dest="start", required=True,
                        type=lambda t: parse_moment(t, end=False))  # fmt: skip
    report.add_argument("--to", dest="end", required=True, type=lambda t: parse_moment(t, end=True))
    report.add_argument("--format", choices=["table", "json", "csv"], default="table")


class CannotRun(Exception):
    """The gateway is not configured for this command."""


@asynccontextmanager
async def record_source(
    gateway: GatewayName, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[GatewayRecordSource]:
    # Imported here: each adapter's SDK loads only for the gateway asked about.
    if gateway is GatewayName.STRIPE:
        from infra.gateways.stripe_records import StripeRecordSource  # noqa: PLC0415

        key = settings.stripe_key()
        if key is None:
            raise CannotRun("STRIPE_API_KEY is not set")
        stripe_source = StripeRecordSource(
            key.get_secret_value(), base_url=settings.stripe_api_base
        )
        try:
            yield stripe_source
        finally:
            await stripe_source.aclose()
    elif gateway is GatewayName.PAYPAL:
        from infra.gateways.paypal_records import PayPalRecordSource  # noqa: PLC0415

        secret = settings.paypal_secret()
        if not settings.paypal_client_id or secret is None:
            raise CannotRun("PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET are not set")
        paypal_source = PayPalRecordSource.create(
            settings.paypal_client_id, secret.get_secret_value(),
            mode=settings.paypal_mode, base_url=settings.paypal_api_base,
        )  # fmt: skip
        try:
            yield paypal_source
        finally:
            await paypal_source.aclose()
    else:
        from infra.gateways.simulator_ledger import SqlLedger  # noqa: PLC0415
        from infra.gateways.simulator_records import SimulatorRecordSource  # noqa: PLC0415

        if settings.simulator_ledger != "database":
            raise CannotRun("the simulator keeps its ledger in memory (SIMULATOR_LEDGER=memory)")
        yield SimulatorRecordSource(SqlLedger(engine))


async def build_report(
    gateway: GatewayName, settings: Settings, engine: AsyncEngine, args: argparse.Namespace,
    progress: IO[str],
) -> ReconciliationReport:  # fmt: skip
    print(f"reading our {gateway.value} payments ...", file=progress)
    ours = await our_records(engine, gateway, args.start, args.end)
    print(f"  {len(ours)} payments that reached {gateway.value}", file=progress)
    print(f"reading {gateway.value}'s records ...", file=progress)
    theirs: list[PaymentRecord] = []
    async with record_source(gateway, settings, engine) as source:
        ours = expected_at(source, ours)
        async for record in source.records(args.start - MARGIN, args.end + MARGIN):
            theirs.append(record)
            if len(theirs) % 500 == 0:
                print(f"  {len(theirs)} records so far", file=progress)
    print(f"  {len(theirs)} records (with a margin of {MARGIN} each side)", file=progress)
    return reconcile(ours, theirs, args.start, args.end)


FIELDS = [
    "category", "reference", "payment_id", "currency", "amount_minor", "captured_minor",
    "refunded_minor", "status", "created_at", "detail",
]  # fmt: skip


def _row(category: str, record: PaymentRecord, detail: str = "") -> dict[str, str]:
    return {
        "category": category,
        "reference": record.reference,
        "payment_id": record.payment_id or "",
        "currency": record.currency,
        "amount_minor": str(record.amount_minor),
        "captured_minor": str(record.captured_minor),
        "refunded_minor": str(record.refunded_minor),
        "status": record.status.value,
        "created_at": record.created_at.isoformat() if record.created_at else "",
        "detail": detail,
    }


def rows(report: ReconciliationReport) -> Iterator[dict[str, str]]:
    for mismatch in report.mismatched:
        detail = "; ".join(f"{d.field}: ours {d.ours}, gateway {d.theirs}"
                           for d in mismatch.differences)  # fmt: skip
        yield _row("mismatch", mismatch.ours, detail)
    for record in report.missing_at_gateway:
        yield _row("missing_at_gateway", record, "we have it, the gateway does not")
    for record in report.missing_here:
        yield _row("missing_here", record, "the gateway has it, we do not")
    for record in report.matched:
        yield _row("match", record)


def summary(report: ReconciliationReport) -> dict[str, int]:
    return {
        "matched": len(report.matched),
        "mismatched": len(report.mismatched),
        "missing_at_gateway": len(report.missing_at_gateway),
        "missing_here": len(report.missing_here),
    }


def render(report: ReconciliationReport, gateway: GatewayName, fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        document = {
            "gateway": gateway.value,
            "from": report.start.isoformat(),
            "to": report.end.isoformat(),
            "all_match": report.all_match,
            "summary": summary(report),
            "rows": list(rows(report)),
        }
        json.dump(document, out, indent=2)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows(report))
        return
    out.write(f"{gateway.value} from {report.start.isoformat()} to {report.end.isoformat()}\n")
    for name, count in summary(report).items():
        out.write(f"  {name:<20} {count}\n")
    for row in rows(report):
        if row["category"] != "match":
            out.write(
                f"{row['category']:<20} {row['reference']:<32} {row['payment_id'] or '-':<36} "
                f"{row['currency']} {row['amount_minor']:>12}  {row['detail']}\n"
            )
    out.write("everything matches\n" if report.all_match else "DIFFERENCES FOUND\n")


async def _run(args: argparse.Namespace, settings: Settings, database_url: str) -> int:
    gateway = GatewayName(args.gateway.upper())
    engine = make_engine(database_url, pool_size=1)
    try:
        report = await build_report(gateway, settings, engine, args, sys.stderr)
    except CannotRun as problem:
        print(f"reconcile-report: {problem}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    finally:
        await engine.dispose()
    render(report, gateway, args.format, sys.stdout)
    return 0 if report.all_match else EXIT_MISMATCH


def run_reconcile_report(args: argparse.Namespace, settings: Settings, database_url: str) -> int:
    if args.start >= args.end:
        print("--from must be before --to", file=sys.stderr)
        return EXIT_CANNOT_RUN
    return asyncio.run(_run(args, settings, database_url))
