"""What checking a request against the contract's buf.validate rules costs (CPU only, one
core): server/contract_rules.py runs it on every call, before the idempotency layer. Also the
card guard's walk (server/card_guard.py), which runs just before it, for scale.

    python -m bench.contract_rules [--seconds 2]

Prints CPU microseconds per request (this thread's CPU time, so that other processes on a
shared machine do not count) for a valid CreatePaymentRequest and CapturePaymentRequest, and
for an invalid CreatePaymentRequest (the violations are built into a ValidationFailed).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from server.card_guard import message_violations
from server.contract_rules import ContractRules

ID = "0b7f3b1e-0000-4000-8000-000000000001"
CREATE = pb.CreatePaymentRequest(
    request_id=ID,
    order_id=ID,
    user_id=ID,
    amount_minor=1099,
    currency="EUR",
    payment_method_type=payment_pb2.PAYMENT_METHOD_TYPE_CREDIT_CARD,
    payment_method_token="pm_card_visa",
    description="Order 1 - two books",
    metadata={"cart": "c-1", "channel": "web"},
    country="DE",
    return_url="https://shop.example.com/return",
)
CAPTURE = pb.CapturePaymentRequest(payment_id=ID, request_id=ID, amount_minor=1099)
INVALID = pb.CreatePaymentRequest(order_id="order-1", amount_minor=-5, currency="eur")


def cpu_microseconds(check: Callable[[], object], seconds: float) -> float:
    check()  # compiles and caches the message type's rules: not what a call pays
    done, start = 0, time.thread_time()
    while (elapsed := time.thread_time() - start) < seconds:
        for _ in range(200):
            check()
        done += 200
    return 1e6 * elapsed / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    rules = ContractRules()
    cases: dict[str, Callable[[], object]] = {
        "rules: CreatePaymentRequest (valid)": lambda: rules.refusal(CREATE),
        "rules: CapturePaymentRequest (valid)": lambda: rules.refusal(CAPTURE),
        "rules: CreatePaymentRequest (4 violations)": lambda: rules.refusal(INVALID),
        "card guard: CreatePaymentRequest (valid)": lambda: list(message_violations(CREATE)),
    }
    for name, check in cases.items():
        print(f"{name:46} {cpu_microseconds(check, args.seconds):8.2f} CPU-µs/request")


if __name__ == "__main__":
    main()
