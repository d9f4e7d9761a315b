"""A checkout through the betterproto2 client: create and authorize a payment with an
idempotency key, capture it, print the payment id and its final status.

    pip install ./generated ./clients/python ./clients/betterproto
    export PAYMENTS_GRPC_TARGET=127.0.0.1:9090 PAYMENTS_TOKEN=…   # from `make run`
    python examples/betterproto/checkout.py [--amount-minor 1099] [--currency EUR] [--order-id …]

A rerun with the same --order-id replays the same answers instead of paying twice: the keys
are derived from the order.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from payments_betterproto import PaymentDeclined, PaymentsClient, PaymentsError, v1


async def checkout(
    order_id: str, user_id: str, amount_minor: int, currency: str, method_token: str
) -> int:
    async with PaymentsClient.from_env() as client:  # PAYMENTS_GRPC_TARGET, PAYMENTS_TOKEN
        try:
            created = await client.create_payment(
                v1.CreatePaymentRequest(
                    order_id=order_id,
                    user_id=user_id,
                    amount_minor=amount_minor,  # integer minor units: 1099 EUR is 10.99 EUR
                    currency=currency,
                    payment_method_type=v1.PaymentMethodType.CREDIT_CARD,
                    payment_method_token=method_token,
                    authorize=True,
                ),
                request_id=f"checkout-{order_id}-create",
            )
            assert created.payment is not None  # a message field: Optional in betterproto2
            payment_id = created.payment.payment_id
            captured = await client.capture_payment(
                v1.CapturePaymentRequest(payment_id=payment_id),
                request_id=f"checkout-{order_id}-capture",
            )
        except PaymentDeclined as declined:
            print(f"declined: {declined.decline_code}", file=sys.stderr)
            return 2
        except PaymentsError as error:
            print(f"failed: {error}", file=sys.stderr)
            return 1
    assert captured.payment is not None
    # The proto's name of the status (PAYMENT_STATUS_CAPTURED), as the grpcio example prints.
    print(f"payment_id={payment_id}")
    print(f"status={captured.payment.status.proto_name}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order-id", default=str(uuid.uuid4()))
    parser.add_argument("--user-id", default=str(uuid.uuid4()))
    parser.add_argument("--amount-minor", type=int, default=1099)
    parser.add_argument("--currency", default="EUR")
    # A gateway's token for a payment method (never a card number): the simulator's test card.
    parser.add_argument("--payment-method-token", default="pm_card_visa")
    args = parser.parse_args()
    return asyncio.run(
        checkout(
            args.order_id,
            args.user_id,
            args.amount_minor,
            args.currency,
            args.payment_method_token,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
