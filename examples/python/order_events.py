"""An order paid through Kafka, as an order service would: give a user a default card (over
gRPC), publish the order's `order.confirmed` event exactly as the specification writes it (on
its own topic, no headers), then read `payment.events` until the payment of that order says
how it went (payment.authorized, or payment.successful when the service captures at once;
payment.failed), and print it.

    pip install ./generated ./clients/python aiokafka
    export PAYMENTS_GRPC_TARGET=127.0.0.1:9090 PAYMENTS_TOKEN=…   # from `make run`
    export PAYMENTS_KAFKA_BROKERS=127.0.0.1:…                      # its `kafka` line
    python examples/python/order_events.py [--total 10.99] [--currency EUR]

Exit status 0 when the order's payment went through, 2 when it failed, 1 on any other error
or when no event came within --wait seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from payments.v1 import payment_method_service_pb2 as mpb
from payments.v1 import payment_pb2
from payments_client import PaymentsClient, PaymentsError
from payments_client.events import (
    EventParseError,
    PaymentAuthorized,
    PaymentFailed,
    PaymentSuccessful,
    parse_payment_event,
)
from payments_client.order_events import order_confirmed

PAYMENT_EVENTS = "payment.events"


async def default_card(user_id: str) -> None:
    """The card the service charges when an order is confirmed: the user's default method."""
    async with PaymentsClient.from_env() as client:  # PAYMENTS_GRPC_TARGET, PAYMENTS_TOKEN
        await client.add_payment_method(
            mpb.AddPaymentMethodRequest(
                user_id=user_id,
                type=payment_pb2.PAYMENT_METHOD_TYPE_CREDIT_CARD,
                payment_method_token="pm_card_visa",  # noqa: S106 - Stripe's test token
                set_default=True,
            ),
            request_id=f"order-example-{user_id}-card",
        )


OUTCOMES = (PaymentAuthorized, PaymentSuccessful, PaymentFailed)


async def from_the_end(brokers: str) -> AIOKafkaConsumer:
    """A consumer of payment.events placed at its end now, before the order is published:
    every event of the order comes after it."""
    consumer = AIOKafkaConsumer(bootstrap_servers=brokers, group_id=None)
    await consumer.start()
    await consumer.topics()  # the cluster's metadata, so that the partitions are known
    partitions = [
        TopicPartition(PAYMENT_EVENTS, p)
        for p in consumer.partitions_for_topic(PAYMENT_EVENTS) or ()
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:
        await consumer.position(partition)  # resolved now, not at the first fetch
    return consumer


Outcome = PaymentAuthorized | PaymentSuccessful | PaymentFailed


async def first_outcome_of(consumer: AIOKafkaConsumer, order_id: str) -> Outcome:
    """The first payment event of the order that says how its payment went."""
    async for record in consumer:
        try:
            event = parse_payment_event(record.value or b"", headers=record.headers)
        except EventParseError:
            continue  # another producer's record on the topic: not ours to read
        if event.order_id == order_id and isinstance(event, OUTCOMES):
            return event
    raise RuntimeError("the consumer stopped")


async def pay_order(brokers: str, total: Decimal, currency: str, wait: float) -> int:
    user_id, order_id = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        await default_card(user_id)
    except PaymentsError as error:
        print(f"failed: {error}", file=sys.stderr)
        return 1
    consumer = await from_the_end(brokers)
    producer = AIOKafkaProducer(bootstrap_servers=brokers)
    await producer.start()
    try:
        message = order_confirmed(
            order_id=order_id, user_id=user_id, total=total, currency=currency
        )  # the specification's form: topic order.confirmed, no headers
        await producer.send_and_wait(
            message.topic, message.value, key=message.key, headers=list(message.headers)
        )
        event = await asyncio.wait_for(first_outcome_of(consumer, order_id), timeout=wait)
    except TimeoutError:
        print(f"failed: no payment event for order {order_id} within {wait:g}s", file=sys.stderr)
        return 1
    finally:
        await producer.stop()
        await consumer.stop()
    print(f"order_id={order_id}")
    print(f"payment_id={event.payment_id}")
    if isinstance(event, PaymentFailed):
        print(f"event=payment.failed reason={event.reason}")
        return 2
    kind = "payment.successful" if isinstance(event, PaymentSuccessful) else "payment.authorized"
    print(f"event={kind} amount={event.amount} {event.currency}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=Decimal, default=Decimal("10.99"))
    parser.add_argument("--currency", default="EUR")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the event")
    args = parser.parse_args()
    brokers = os.environ.get("PAYMENTS_KAFKA_BROKERS")
    if not brokers:
        print("failed: set PAYMENTS_KAFKA_BROKERS (the service's Kafka)", file=sys.stderr)
        return 1
    return asyncio.run(pay_order(brokers, args.total, args.currency, args.wait))


if __name__ == "__main__":
    sys.exit(main())
