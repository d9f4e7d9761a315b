"""`payment-service operations list-open | resolve`: the gateway operations left open with an
unknown outcome (a timeout, a crash between the intent and the answer), for an operator.

- `list-open [--older-than SECONDS] [--limit N] [--format table|json]`: the oldest first,
  with their age, payment, kind, amount and why they are open. Exit status 0 (1 when
  `--fail-if-any` and there is one: for monitoring).
- `resolve TRANSACTION_ID --ask-gateway`: ask the gateway what it did under the operation's
  idempotency key and record that (the reconciler's step, run now).
- `resolve TRANSACTION_ID --outcome succeeded|failed --reason TEXT [--reference ID]
  [--operator NAME]`: record what the operator learned elsewhere. The payment moves as it
  would have on the gateway's answer (its events go out through the outbox); the audit
  trail names the operator and the reason (`admin.operation.resolve`).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actor import Actor, ActorKind
from domain.errors import DomainError
from domain.usecases.deps import Deps
from domain.usecases.reconcile import reconcile_operation
from domain.usecases.resolve_operation import Resolution, ResolveOperation, resolve_operation
from infra.currency import iso4217_catalog
from infra.db.engine import make_engine
from infra.db.open_operations import OpenOperation, open_operation, open_operations
from infra.db.uow import SqlUnitOfWork
from infra.gateways.directory import RoutedGatewayDirectory
from infra.system import SystemClock, UuidGenerator
from server.config import Settings
from server.encryption import build_sealer
from server.gateways import build_gateways, close_gateways
from server.messaging import event_renderer

EXIT_OPEN_FOUND = 1
EXIT_CANNOT_RUN = 2


def add_operations_commands(sub: Any) -> None:
    operations = sub.add_parser("operations", help="operations with an unknown outcome")
    commands = operations.add_subparsers(dest="operations_command", required=True)
    listing = commands.add_parser("list-open", help="open operations, the oldest first")
    listing.add_argument("--older-than", type=float, default=0.0, metavar="SECONDS")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.add_argument("--fail-if-any", action="store_true", help="exit 1 when one is open")
    resolve = commands.add_parser("resolve", help="close one open operation")
    resolve.add_argument("transaction_id", type=_uuid)
    how = resolve.add_mutually_exclusive_group(required=True)
    how.add_argument("--outcome", choices=[r.value for r in Resolution])
    how.add_argument("--ask-gateway", action="store_true", help="record what the gateway did")
    resolve.add_argument("--reason", help="why (required with --outcome; in the audit trail)")
    resolve.add_argument("--reference", help="the gateway's id of what it did, when known")
    resolve.add_argument("--operator", default=None, help="who resolves (default: $USER)")


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError("must be a transaction id (a UUID)") from None


def operation_json(op: OpenOperation, age: int) -> dict[str, Any]:
    return {
        "transactionId": op.transaction_id,
        "paymentId": op.payment_id,
        "kind": op.kind,
        "status": op.status,
        "amountMinor": op.amount_minor,
        "currency": op.currency,
        "gateway": op.gateway,
        "createdAt": op.created_at.isoformat(),
        "ageSeconds": age,
        "detail": op.detail,
    }


def operations_table(found: list[OpenOperation], ages: list[int]) -> str:
    lines = [
        f"{'TRANSACTION':<36}  {'PAYMENT':<36}  {'KIND':<13}  {'STATUS':<7}  "
        f"{'AMOUNT':>12}  {'AGE':>8}  DETAIL"
    ]
    for op, age in zip(found, ages, strict=True):
        amount = f"{op.amount_minor} {op.currency}"
        lines.append(
            f"{op.transaction_id:<36}  {op.payment_id:<36}  {op.kind:<13}  {op.status:<7}  "
            f"{amount:>12}  {age:>7}s  {op.detail or ''}"
        )
    lines.append(f"{len(found)} open operation(s)")
    return "\n".join(lines)


async def list_open(args: argparse.Namespace, database_url: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    now = SystemClock().now()
    try:
        found = await open_operations(
            engine, started_before=now - timedelta(seconds=args.older_than), limit=args.limit
        )
    finally:
        await engine.dispose()
    ages = [op.age_seconds(now) for op in found]
    if args.format == "json":
        print(json.dumps([operation_json(op, age) for op, age in zip(found, ages, strict=True)]))
    else:
        print(operations_table(found, ages))
    return EXIT_OPEN_FOUND if args.fail_if_any and found else 0


def _operator(args: argparse.Namespace) -> Actor:
    name = args.operator or getpass.getuser()
    return Actor(ActorKind.SYSTEM, f"operator:{name}", origin="cli:operations resolve")


async def _resolve(args: argparse.Namespace, settings: Settings, engine: AsyncEngine) -> str:
    op = await open_operation(engine, args.transaction_id)
    if op is None:
        raise LookupError(f"no open operation {args.transaction_id}")
    actor = _operator(args)
    gateways = build_gateways(settings, engine) if args.ask_gateway else {}
    try:
        deps = Deps(
            SqlUnitOfWork(engine, build_sealer(settings), event_renderer(settings), actor),
            RoutedGatewayDirectory(gateways, settings.routing_table()),
            SystemClock(),
            UuidGenerator(),
            iso4217_catalog(),
            actor=actor,
        )
        if args.ask_gateway:
            await reconcile_operation(op.payment_id, op.transaction_id, deps)
            async with deps.uow as uow:
                txn = (await uow.payments.get(op.payment_id)).transaction(op.transaction_id)
        else:
            command = ResolveOperation(
                op.payment_id, op.transaction_id, Resolution(args.outcome), args.reason,
                args.reference,
            )  # fmt: skip
            txn = await resolve_operation(command, deps)
    finally:
        await close_gateways(gateways)
    return (
        f"{op.kind.lower()} {op.transaction_id} of payment {op.payment_id}: "
        f"{op.status} -> {txn.status.value}"
    )


async def resolve(args: argparse.Namespace, settings: Settings, database_url: str) -> int:
    if args.outcome and not args.reason:
        print("--reason is required with --outcome (it goes in the audit trail)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    engine = make_engine(database_url, pool_size=2)
    try:
        print(await _resolve(args, settings, engine))
    except LookupError as exc:
        print(str(exc.args[0]), file=sys.stderr)
        return EXIT_CANNOT_RUN
    except DomainError as exc:
        said = "; ".join(f"{v.field} {v.description}" for v in exc.violations)
        print(f"{exc.reason}: {said or exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    finally:
        await engine.dispose()
    return 0


def run_operations(args: argparse.Namespace, settings: Settings, database_url: str) -> int:
    if args.operations_command == "list-open":
        return asyncio.run(list_open(args, database_url))
    return asyncio.run(resolve(args, settings, database_url))
