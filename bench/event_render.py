"""What rendering an event into its published form costs (CPU only, one core): the outbox
does it once per event inside the committing transaction. Also the relay's path for rows
written before revision 0016 (neutral payload read back into an event, then rendered).

    python -m bench.event_render [--seconds 3]

Prints, for each path, events rendered per CPU-second and CPU microseconds per event (this
thread's CPU time, so that other processes on a shared machine do not count).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from domain.enums import PaymentMethodType
from domain.events import (
    DomainEvent,
    PaymentAuthorized,
    PaymentCancelled,
    PaymentFailed,
    PaymentRefunded,
    PaymentRequiresAction,
    PaymentRequiresReview,
    PaymentSucceeded,
)
from domain.money import Money
from infra.currency import iso4217_catalog
from infra.db.outbox import legacy_event
from server.events_wire import EventRenderer

MOMENT = datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=UTC)
IDS = ("0b7f3b1e-0000-4000-8000-000000000001", "0b7f3b1e-0000-4000-8000-000000000002")
COMMON = (*IDS, "order-1", MOMENT)
# One lifecycle's worth of the usual events, and the rarer ones once each.
EVENTS: list[DomainEvent] = [
    PaymentAuthorized(*COMMON, Money(1099, "EUR"), PaymentMethodType.CREDIT_CARD, "txn-1"),
    PaymentSucceeded(*COMMON, Money(1099, "EUR"), PaymentMethodType.CREDIT_CARD, "txn-2"),
    PaymentRefunded(*COMMON, "refund-1", Money(99, "EUR"), "txn-3"),
    PaymentFailed(*COMMON, "declined", "CARD_DECLINED", 0),
    PaymentCancelled(*COMMON, "customer asked"),
    PaymentRequiresAction(*COMMON, "https://example.test/3ds"),
    PaymentRequiresReview(*COMMON, ("AMOUNT_OVER_REVIEW_LIMIT",)),
]


def legacy_payload(event: DomainEvent) -> dict[str, object]:
    """The neutral payload rows held before 0016 (as the relay reads it back from JSONB)."""
    wire = json.loads(EventRenderer("/bench", iso4217_catalog().exponent).value(event))
    payload = {k: v for k, v in wire.items() if k not in ("timestamp", "amount", "currency")}
    payload |= {"type": event.event_type, "occurredAt": event.occurred_at.isoformat()}
    if "amountMinor" in wire:
        payload["amount"] = {
            "amountMinor": payload.pop("amountMinor"),
            "currency": wire["currency"],
        }
    if "paymentMethod" in wire:
        payload["paymentMethodType"] = payload.pop("paymentMethod")
    return payload


def rate(render_all: Callable[[], object], seconds: float) -> float:
    """Events per CPU-second over `seconds` of CPU time."""
    done, start = 0, time.thread_time()
    while (elapsed := time.thread_time() - start) < seconds:
        render_all()
        done += len(EVENTS)
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    render = EventRenderer("/payment-service", iso4217_catalog().exponent)
    rows = [(e.event_type, legacy_payload(e)) for e in EVENTS]

    def outbox() -> object:
        # With the headers' JSON, as the insert binds them into the JSONB column.
        return [json.dumps(render(event).headers) for event in EVENTS]

    def relay_legacy() -> object:
        return [render(legacy_event(kind, payload)) for kind, payload in rows]

    paths = {
        "outbox (event -> published form)": outbox,
        "relay, pre-0016 row (payload -> event -> form)": relay_legacy,
    }
    for name, run in paths.items():
        per_second = rate(run, args.seconds)
        print(f"{name:48} {per_second:>10,.0f} events/CPU-s  {1e6 / per_second:6.1f} CPU-µs/event")


if __name__ == "__main__":
    main()
