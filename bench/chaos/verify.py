"""What must hold once the faults are over and the service has settled:

- no gateway operation is still open (the reconciler settled every unknown outcome);
- every payment's amounts and state agree with the gateway simulator's ledger, and the
  ledger has no money the service does not know about;
- every event committed to the outbox reached the topic (none lost), a repeat on the topic
  is the same event (same eventId, same bytes), and every state change of a payment (its
  succeeded operations, its failure or cancellation) has its event.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from bench.chaos.events import SeenEvent

# Payment status -> the simulator's charge status it must go with.
CHARGE_STATUS = {
    "AUTHORIZED": "authorized",
    "CAPTURED": "captured",
    "PARTIALLY_REFUNDED": "captured",
    "REFUNDED": "captured",
    "CANCELLED": "voided",
}
MONEY_STATES = frozenset(CHARGE_STATUS) - {"CANCELLED"}
EVENT_OF_OPERATION = {
    "AUTHORIZATION": "payment.authorized",
    "CAPTURE": "payment.successful",
    "REFUND": "payment.refunded",
}
EVENT_OF_STATUS = {"FAILED": "payment.failed", "CANCELLED": "payment.cancelled"}


@dataclass
class Verdict:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, line: str, examples: list[str] | None = None) -> None:
        self.lines.append(f"  [{'ok' if ok else 'FAIL'}] {line}")
        if not ok:
            self.failures.append(line)
            self.lines.extend(f"         {e}" for e in (examples or [])[:5])


async def until(condition: Callable[[], Awaitable[bool]], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if await condition():
                return True
        except (OSError, asyncpg.PostgresError):
            pass
        await asyncio.sleep(0.5)
    return False


async def open_operations(conn: asyncpg.Connection) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM transactions WHERE status IN ('PENDING', 'UNKNOWN')"
        )
    )


async def unpublished(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


def expected_charge_status(payment_status: str, charge_status: str) -> str:
    """The charge status a payment's status goes with. A payment that moved no money (its
    authorization declined, or waiting for 3-D Secure) may sit beside a declined or pending
    charge; any other charge status is a disagreement."""
    if payment_status in CHARGE_STATUS:
        return CHARGE_STATUS[payment_status]
    return charge_status if charge_status in ("declined", "requires_action") else "none"


async def check_amounts(conn: asyncpg.Connection, verdict: Verdict) -> None:
    rows = await conn.fetch(
        "SELECT p.id, p.status, p.captured_minor, p.refunded_minor, c.charge"
        " FROM payments p LEFT JOIN gateway_simulator.charges c"
        " ON c.reference = p.gateway_payment_id"
    )
    wrong: list[str] = []
    for row in rows:
        charge = json.loads(row["charge"]) if row["charge"] is not None else None
        ours = (row["status"], row["captured_minor"], row["refunded_minor"])
        if charge is None:
            if row["status"] in MONEY_STATES or row["captured_minor"] or row["refunded_minor"]:
                wrong.append(f"payment {row['id']} {ours}: the gateway has no charge")
            continue
        theirs = (charge["status"], charge["captured_minor"], charge["refunded_minor"])
        expected = expected_charge_status(row["status"], charge["status"])
        if (expected, ours[1], ours[2]) != theirs:
            wrong.append(f"payment {row['id']} {ours} vs gateway {theirs}")
    orphans = await conn.fetch(
        "SELECT c.reference, c.charge FROM gateway_simulator.charges c"
        " WHERE c.charge->>'status' <> 'declined' AND NOT EXISTS"
        " (SELECT 1 FROM payments p WHERE p.gateway_payment_id = c.reference)"
    )
    wrong += [f"gateway charge {o['reference']} {o['charge']}: no payment has it" for o in orphans]
    verdict.check(
        not wrong,
        f"amounts: {len(rows)} payments agree with the simulator's ledger"
        if not wrong
        else f"amounts: {len(wrong)} of {len(rows)} payments disagree with the ledger",
        wrong,
    )


async def check_events(conn: asyncpg.Connection, seen: list[SeenEvent], verdict: Verdict) -> None:
    outbox = {
        str(r["id"]): (r["event_type"], str(r["aggregate_id"]))
        for r in await conn.fetch("SELECT id, event_type, aggregate_id FROM outbox")
    }
    values: defaultdict[str, set[bytes]] = defaultdict(set)
    copies: Counter[str] = Counter()
    for event in seen:
        values[event.event_id].add(event.value)
        copies[event.event_id] += 1
    lost = [f"{i} {outbox[i]}" for i in outbox if i not in copies]
    verdict.check(
        not lost, f"events: {len(outbox)} committed, {len(lost)} missing from the topic", lost
    )
    strangers = [i for i in copies if i not in outbox]
    verdict.check(
        not strangers, f"events: {len(strangers)} on the topic not from the outbox", strangers
    )
    repeated = [i for i, n in copies.items() if n > 1]
    differing = [i for i in repeated if len(values[i]) > 1]
    verdict.check(
        not differing,
        f"events: {len(repeated)} repeated on the topic, each with the same eventId and bytes"
        if not differing
        else f"events: {len(differing)} eventIds repeated with different contents",
        differing,
    )
    await _check_state_changes(conn, outbox, verdict)


async def _check_state_changes(
    conn: asyncpg.Connection, outbox: dict[str, tuple[str, str]], verdict: Verdict
) -> None:
    events: Counter[tuple[str, str]] = Counter((pid, kind) for kind, pid in outbox.values())
    operations = await conn.fetch(
        "SELECT payment_id, type, count(*) AS n FROM transactions"
        " WHERE status = 'SUCCEEDED' GROUP BY payment_id, type"
    )
    missing: list[str] = []
    changes = 0
    for row in operations:
        kind = EVENT_OF_OPERATION.get(row["type"])
        if kind is None:
            continue
        changes += row["n"]
        if events[(str(row["payment_id"]), kind)] != row["n"]:
            got = events[(str(row["payment_id"]), kind)]
            missing.append(f"payment {row['payment_id']}: {row['n']} {row['type']}, {got} {kind}")
    for row in await conn.fetch("SELECT id, status FROM payments WHERE status = ANY($1)",
                                list(EVENT_OF_STATUS)):  # fmt: skip
        changes += 1
        if not events[(str(row["id"]), EVENT_OF_STATUS[row["status"]])]:
            missing.append(
                f"payment {row['id']} {row['status']}: no {EVENT_OF_STATUS[row['status']]}"
            )
    verdict.check(
        not missing,
        f"state changes: each of {changes} has its event" if not missing
        else f"state changes: {len(missing)} without their event",
        missing,
    )  # fmt: skip
