"""What the dispute fields add to a payment's path (CPU only, one core): every payment
answer now carries disputed_amount_minor, dispute_status and net_amount_minor, and every
payment row read or written carries three more columns.

    python -m bench.dispute_fields [--seconds 2]

Prints CPU microseconds per payment for the whole payment_to_proto (never disputed and
disputed) and for the dispute parts alone (the answer's fields, the row's columns both ways),
so the share they take of a payment answer is plain (this thread's CPU time: other processes
on a shared machine do not count).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

from domain.dispute import DisputeStatus
from domain.enums import GatewayName, PaymentMethodType
from domain.money import Money
from domain.payment import Payment
from domain.payment_amounts import PaymentAmounts
from domain.payment_disputes import PaymentDisputes
from infra.db.mappers import disputes_from_row, disputes_to_row
from server.mappers import _dispute_fields, payment_to_proto

MOMENT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def captured_payment(disputes: PaymentDisputes | None) -> Payment:
    amount = Money(10_000, "EUR")
    amounts = PaymentAmounts.of(amount).authorize(amount).capture(amount, amount)
    return Payment(
        id="0b7f3b1e-0000-4000-8000-000000000002", order_id="0b7f3b1e-0000-4000-8000-000000000003",
        user_id="0b7f3b1e-0000-4000-8000-000000000004", amounts=amounts,
        payment_method_type=PaymentMethodType.CREDIT_CARD, gateway=GatewayName.STRIPE,
        created_at=MOMENT, updated_at=MOMENT, disputes=disputes,
    )  # fmt: skip


def micros_per_call(call: Callable[[], object], seconds: float) -> float:
    done, start = 0, time.thread_time()
    while (elapsed := time.thread_time() - start) < seconds:
        for _ in range(100):
            call()
        done += 100
    return elapsed / done * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    lost = Money(4_000, "EUR")
    disputed = PaymentDisputes(lost, lost, DisputeStatus.LOST)
    plain, charged_back = captured_payment(None), captured_payment(disputed)
    row = {"currency": "EUR"} | disputes_to_row(disputed)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("payment_to_proto, never disputed", lambda: payment_to_proto(plain)),
        ("payment_to_proto, disputed", lambda: payment_to_proto(charged_back)),
        ("  of which the dispute fields (never disputed)", lambda: _dispute_fields(plain)),
        ("  of which the dispute fields (disputed)", lambda: _dispute_fields(charged_back)),
        ("row: disputes_to_row", lambda: disputes_to_row(disputed)),
        ("row: disputes_from_row", lambda: disputes_from_row(row)),
    ]
    for name, call in cases:
        print(f"{name:<50} {micros_per_call(call, args.seconds):8.2f} µs")


if __name__ == "__main__":
    main()
