"""Every event the service publishes, read back from a real Kafka-compatible broker (Tansu),
matches the AsyncAPI document generated from the contract (generated/asyncapi.json): its
payload and its headers validate against the document's JSON Schemas, and both typed
parsers - the Python client's and the TypeScript client's - read it with exact decimal
amounts and agree on every field."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import jsonschema_rs
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from google.api import httpbody_pb2

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from infra.messaging.order_topics import decode
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import webhook_service_pb2 as wpb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from payments.v1.webhook_service_pb2_grpc import WebhookServiceStub
from payments_client.events import (
    EVENT_TYPES,
    PaymentAuthorized,
    PaymentDisputed,
    PaymentEvent,
    PaymentRefunded,
    PaymentSuccessful,
    json_name,
    parse_payment_event,
)
from server.app import PaymentApplication
from server.kafka_config import KafkaSettings
from tests.e2e.helpers import create_request
from tests.support import databases, node
from tests.support.channels import open_channel
from tests.support.kafka_broker import TansuBroker
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests
from tests.support.webhook_signing import stripe_body, stripe_header

ASYNCAPI = Path(__file__).resolve().parents[2] / "generated" / "asyncapi.json"
TOPIC = "payment.events"


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ASYNCAPI.read_text())
    return loaded


def published_messages() -> dict[str, dict[str, Any]]:
    """event type -> (payload schema, headers schema) of the payment events channel."""
    doc = document()
    found = {}
    for ref in doc["channels"]["paymentEvents"]["messages"].values():
        message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
        payload = doc["components"]["schemas"][message["payload"]["$ref"].rsplit("/", 1)[1]]
        found[message["name"]] = {"payload": payload, "headers": message["headers"]}
    return found


@pytest.fixture(scope="module")
def contract_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_asyncapi") as url:
        yield url


@pytest.fixture
async def broker() -> AsyncIterator[TansuBroker]:
    server = TansuBroker()
    await server.start(topics=(TOPIC,))
    yield server
    server.stop()


STRIPE_SECRET = "whsec_contract"


async def open_and_lose_a_dispute(channel: grpc.aio.Channel, payment: Any) -> None:
    """payment.disputed, then payment.dispute_closed: Stripe's webhooks (signed) about the
    payment (a simulator payment: its gateway id stands in for Stripe's)."""
    hooks = WebhookServiceStub(channel)
    dispute = {
        "id": f"dp_{uuid.uuid4()}", "object": "dispute", "amount": 500, "currency": "kwd",
        "reason": "fraudulent", "payment_intent": payment.gateway_payment_id,
    }  # fmt: skip
    for kind, status in (
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.closed", "lost"),
    ):
        body = stripe_body(f"evt_{uuid.uuid4()}", kind, dispute | {"status": status})
        header = stripe_header(body, STRIPE_SECRET, int(time.time()))
        request = wpb.HandleStripeWebhookRequest(
            body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
        )
        await hooks.HandleStripeWebhook(request, metadata=(("stripe-signature", header),))


async def every_event_type(channel: grpc.aio.Channel) -> set[str]:
    """Drives payments through every published event type; their order ids."""
    stub = PaymentServiceStub(channel)
    orders: set[str] = set()

    async def create(**fields: Any) -> pb.CreatePaymentResponse:
        created: pb.CreatePaymentResponse = await stub.CreatePayment(create_request(**fields))
        orders.add(created.payment.order_id)
        return created

    # authorized, successful, refunded; in a currency of three decimals too
    for currency, minor in (("EUR", 1099), ("KWD", 1234), ("JPY", 500)):
        paid = await create(authorize=True, currency=currency, amount_minor=minor)
        pid = paid.payment.payment_id
        await stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid))
        await stub.RefundPayment(pb.RefundPaymentRequest(payment_id=pid, amount_minor=99))
        if currency == "KWD":  # disputed and lost, in a currency of three decimals
            await open_and_lose_a_dispute(channel, paid.payment)
    # cancelled
    held = await create(authorize=True)
    await stub.CancelPayment(pb.CancelPaymentRequest(payment_id=held.payment.payment_id))
    # failed
    declined = await create(payment_method_token="pm_card_chargeDeclined")
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.AuthorizePayment(
            pb.AuthorizePaymentRequest(payment_id=declined.payment.payment_id)
        )
    # requires_action (3-D Secure), requires_review (every CHF payment is held for review)
    await create(authorize=True, payment_method_token="pm_card_authenticationRequired")
    await create(authorize=True, currency="CHF", amount_minor=5000)
    return orders


def as_text(value: object) -> object:
    """A parsed field as the TypeScript parser's CLI prints it (clients/typescript/src/cli)."""
    if isinstance(value, datetime):
        return None  # compared separately: Python keeps a datetime, TypeScript the RFC 3339 text
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, int | Decimal):
        return str(value)
    return value


async def parsed_by_typescript(records: list[ConsumerRecord[bytes, bytes]], tmp: Path) -> Any:
    """The records parsed by the TypeScript client's parsePaymentEvent (a Node.js child)."""
    dump = tmp / "records.json"
    dump.write_text(
        json.dumps(
            [
                {
                    "headers": {key: value.decode() for key, value in r.headers},
                    "value": (r.value or b"").decode(),
                }
                for r in records
            ]
        )
    )
    await node.build(node.CLIENT)
    finished = await node.run("node", "dist/cli/parse_events.js", str(dump), cwd=node.CLIENT)
    assert finished.returncode == 0, finished.report()
    return json.loads(finished.out)


def assert_same_event(python: PaymentEvent, parsed_by_ts: dict[str, Any]) -> None:
    typescript = dict(parsed_by_ts)
    assert typescript.pop("type") == next(k for k, v in EVENT_TYPES.items() if v is type(python))
    # The same instant: JavaScript writes milliseconds (.730), Python microseconds (.730000).
    moments = [f.name for f in fields(python) if isinstance(getattr(python, f.name), datetime)]
    for name in moments:
        assert datetime.fromisoformat(typescript.pop(json_name(name))) == getattr(python, name)
    wanted = {json_name(f.name): as_text(getattr(python, f.name)) for f in fields(python)}
    for name in moments:
        del wanted[json_name(name)]
    assert typescript == wanted
    for name, value in wanted.items():
        if isinstance(getattr(python, _snake(name)), Decimal):
            # The same digits and the same scale: nothing went through a float.
            assert Decimal(typescript[name]).as_tuple() == Decimal(str(value)).as_tuple()


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


async def test_every_published_event_matches_the_asyncapi_document(
    contract_database_url: str, broker: TansuBroker, tmp_path: Path
) -> None:
    settings = settings_for_tests(
        kafka_brokers=broker.bootstrap,
        kafka_enable_idempotence=False,  # Tansu has no InitProducerId
        outbox_poll_interval_seconds=0.05,
        fraud_review_amount_limits="CHF:1",
        stripe_webhook_secret=STRIPE_SECRET,
    )
    app = PaymentApplication(
        settings, contract_database_url, gateways={GatewayName.SIMULATOR: SimulatorGateway()}
    )
    reader = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    records: list[ConsumerRecord[bytes, bytes]] = []
    await app.start()
    await reader.start()
    try:
        async with open_channel(f"127.0.0.1:{app.grpc_port}") as channel:
            orders = await every_event_type(channel)

        def mine() -> list[ConsumerRecord[bytes, bytes]]:
            return [r for r in records if (r.key or b"").decode() in orders]

        async def every_type_arrived() -> bool:
            for batch in (await reader.getmany(timeout_ms=100)).values():
                records.extend(batch)
            types = {dict(r.headers)["ce_type"].decode() for r in mine()}
            return types == set(EVENT_TYPES) and len(mine()) >= 16

        await eventually(every_type_arrived, within=20)
        assert len(mine()) == 16, sorted(dict(r.headers)["ce_type"].decode() for r in mine())
    finally:
        await reader.stop()
        await app.stop(grace=1)

    schemas = published_messages()
    assert set(schemas) == set(EVENT_TYPES)
    validators = {
        name: (jsonschema_rs.validator_for(s["payload"]), jsonschema_rs.validator_for(s["headers"]))
        for name, s in schemas.items()
    }
    for record in mine():
        headers = {key: value.decode() for key, value in record.headers}
        payload_valid, headers_valid = validators[headers["ce_type"]]
        value = json.loads(record.value or b"", parse_float=Decimal)
        errors = [e.message for e in payload_valid.iter_errors(value)]
        assert not errors, (headers["ce_type"], errors, value)
        assert not [e.message for e in headers_valid.iter_errors(headers)]
        event = parse_payment_event(record.value or b"", headers=record.headers)
        assert event.event_id == headers["ce_id"] == value["eventId"]
        if isinstance(
            event, PaymentAuthorized | PaymentSuccessful | PaymentRefunded | PaymentDisputed
        ):
            assert isinstance(event.amount, Decimal)
            assert event.amount == value["amount"]
            digits = -event.amount.as_tuple().exponent  # type: ignore[operator]
            assert event.amount.scaleb(digits) == event.amount_minor
    parsed = [parse_payment_event(r.value or b"", headers=r.headers) for r in mine()]
    kwd = [e for e in parsed if isinstance(e, PaymentSuccessful) and e.currency == "KWD"]
    assert [e.amount for e in kwd] == [Decimal("1.234")]
    # The TypeScript client's parser reads the same records into the same events.
    typescript = await parsed_by_typescript(mine(), tmp_path)
    assert len(typescript) == len(parsed)
    for python_event, typescript_event in zip(parsed, typescript, strict=True):
        assert_same_event(python_event, typescript_event)
    successful = [e["amount"] for e in typescript if e["type"] == "payment.successful"]
    assert successful.count("1.234") == 1


BUILD_ORDER_EVENTS = """
import { orderCancelled, orderConfirmed } from "./dist/index.js";
const [orderId, userId] = process.argv.slice(1);
const records = [];
for (const form of ["spec", "cloudevents"]) {
  const total = "12345678901.345";
  records.push(orderConfirmed({ orderId, userId, total, currency: "KWD", form }));
  records.push(orderCancelled({ orderId, reason: "customer asked", form }));
}
process.stdout.write(JSON.stringify(records));
"""


def described_on(doc: dict[str, Any], topic: str) -> dict[str, dict[str, Any]]:
    """event type -> the document's message (its payload schema resolved) on `topic`."""
    [channel] = [c for c in doc["channels"].values() if c["address"] == topic]
    found = {}
    for ref in channel["messages"].values():
        message = dict(doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]])
        schema = message["payload"]["$ref"].rsplit("/", 1)[1]
        message["payload"] = doc["components"]["schemas"][schema]
        found[message["name"]] = message
    return found


async def test_the_typescript_order_event_builders_match_the_asyncapi_document() -> None:
    """What the TypeScript builders make, in both forms, validates against the document's
    schemas of the channel it goes to, and the service's consumer decodes it, the total
    exactly: the spec form typed by its topic, the CloudEvents form by its ce_type."""
    await node.build(node.CLIENT)
    order_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    finished = await node.run(
        "node", "--input-type=module", "-e", BUILD_ORDER_EVENTS, order_id, user_id, cwd=node.CLIENT
    )
    assert finished.returncode == 0, finished.report()
    records = json.loads(finished.out)
    doc = document()
    types = ("order.confirmed", "order.cancelled")
    assert [r["topic"] for r in records] == [*types, "order.events", "order.events"]
    assert [bool(r["headers"]) for r in records] == [False, False, True, True]
    topics = KafkaSettings().order_topics()
    for record, event_type in zip(records, types * 2, strict=True):
        message = described_on(doc, record["topic"])[event_type]
        value = json.loads(record["value"], parse_float=Decimal)
        assert not [
            e.message for e in jsonschema_rs.validator_for(message["payload"]).iter_errors(value)
        ]
        headers_schema = jsonschema_rs.validator_for(message["headers"])
        assert not [e.message for e in headers_schema.iter_errors(record["headers"])]
        assert record["key"] == order_id
        consumed: ConsumerRecord[bytes, bytes] = ConsumerRecord(
            topic=record["topic"],
            partition=0,
            offset=0,
            timestamp=0,
            timestamp_type=0,
            key=record["key"].encode(),
            value=record["value"].encode(),
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=0,
            headers=[(k, v.encode()) for k, v in record["headers"].items()],
        )
        decoded_type, body = decode(consumed, topics)
        assert decoded_type == event_type
        assert body["orderId"] == order_id
    total = json.loads(records[0]["value"], parse_float=Decimal)["total"]
    assert (total, str(total)) == (Decimal("12345678901.345"), "12345678901.345")
