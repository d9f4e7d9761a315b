"""`payment-service audit verify | tail | show`: operators' view of the audit trail.

verify walks the whole chain in sequence order (in batches, any size of trail), recomputes
every hash and stops at the first row that does not hold, naming it; then it checks every
entry still waiting for the linker against its content hash (domain/audit_chain.py). Exit
status 1 at the first break, 0 when the trail is intact (it prints the row count and the head
to record as an anchor, and how many entries wait). tail and show list waiting entries too,
with "seq": null and "linked": false.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from domain.audit_chain import ChainedEntry, TrailEntry, verify_chain, verify_pending
from infra.db.audit import SqlAuditReader
from infra.db.engine import make_engine

EXIT_BROKEN = 1


def add_audit_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="verify or read the tamper-evident audit trail")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = commands.add_parser("verify", help="check the hash chain, name the first bad row")
    verify.add_argument("--batch-size", type=int, default=1000, help="rows read per query")
    verify.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="a head printed by an earlier verify (kept elsewhere): that row must still have "
        "that hash. Catches a chain rewritten to its end or cut short. Repeatable.",
    )
    tail = commands.add_parser("tail", help="the last rows, one JSON object per line")
    tail.add_argument("-n", "--rows", type=int, default=20)
    show = commands.add_parser("show", help="one resource's rows, one JSON object per line")
    show.add_argument("resource", metavar="TYPE:ID", help="e.g. payment:6f1c2b1e-...")


def parse_anchor(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise SystemExit(f"--expect {text!r}: expected SEQ:HASH (a sequence number, 64 hex)")
    return int(seq), digest.lower()


def as_json(row: TrailEntry) -> str:
    e = row.entry
    chained = row if isinstance(row, ChainedEntry) else None
    return json.dumps(
        {
            "seq": chained.seq if chained else None,
            "linked": chained is not None,
            "id": e.id,
            "occurred_at": e.occurred_at.isoformat(),
            "actor": {"kind": e.actor_kind, "subject": e.actor_subject},
            "action": e.action,
            "resource": {"type": e.resource_type, "id": e.resource_id},
            "request_id": e.request_id,
            "origin": e.origin,
            "outcome": e.outcome,
            "reason": e.reason,
            "before": e.before,
            "after": e.after,
            "prev_hash": chained.prev_hash if chained else None,
            "hash": chained.hash if chained else None,
        },
        sort_keys=True,
    )


async def run_audit(args: argparse.Namespace, database_url: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    try:
        if args.audit_command == "verify":
            reader = SqlAuditReader(engine, batch_size=max(1, args.batch_size))
            anchors = dict(parse_anchor(text) for text in args.expect)
            return await verify(reader, anchors)
        reader = SqlAuditReader(engine)
        if args.audit_command == "tail":
            rows = await reader.last(max(1, args.rows))
        else:
            kind, _, resource_id = args.resource.partition(":")
            rows = await reader.for_resource(kind, resource_id)
        for row in rows:
            print(as_json(row))
        return 0
    finally:
        await engine.dispose()


async def verify(reader: SqlAuditReader, anchors: dict[int, str]) -> int:
    verifier, broken = await verify_chain(reader.in_order(), anchors)
    if broken is not None:
        print(f"audit trail BROKEN at {broken}", file=sys.stderr)
        print(f"rows verified before it: {verifier.count}", file=sys.stderr)
        return EXIT_BROKEN
    waiting, broken = await verify_pending(reader.pending())
    if broken is not None:
        print(f"audit trail BROKEN at {broken}", file=sys.stderr)
        print(f"rows verified before it: {verifier.count} chained, {waiting} pending",
              file=sys.stderr)  # fmt: skip
        return EXIT_BROKEN
    if verifier.count == 0 and waiting == 0:
        print("audit trail intact: 0 rows (empty)")
        return 0
    print(f"audit trail intact: {verifier.count} rows")
    if waiting:
        print(f"pending: {waiting} entries not linked yet, each matching its content hash")
    if verifier.count:  # the last line: the anchor to record
        print(f"head: {verifier.head_seq}:{verifier.head_hash}")
    return 0
