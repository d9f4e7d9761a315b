"""Disputes end to end (issue 15, item 3): a gateway's dispute webhook - Stripe's
charge.dispute.created, PayPal's CUSTOMER.DISPUTE.CREATED - shows up in
DisputeService.ListDisputes, on the payment (disputed_amount_minor, dispute_status) and as a
payment.disputed event on Kafka (a real Tansu broker), keyed by the order id; closing it as
lost lowers the payment's net amount and publishes payment.dispute_closed.

The payments are the simulator's: its gateway ids stand in for Stripe's and PayPal's, since
what is under test is what the service does with a verified dispute event."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import grpc
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from google.api import httpbody_pb2
from prometheus_client.parser import text_string_to_metric_families

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import dispute_service_pb2 as dpb
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import webhook_service_pb2 as wpb
from payments.v1.dispute_service_pb2_grpc import DisputeServiceStub
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from payments.v1.webhook_service_pb2_grpc import WebhookServiceStub
from payments_betterproto import PaymentsClient as BetterprotoClient
from payments_betterproto.proto.payments import v1 as betterproto
from payments_client import PaymentsClient
from payments_client.events import PaymentDisputeClosed, PaymentDisputed, parse_payment_event
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, new_id, rpc_error
from tests.support import databases
from tests.support.auth import admin_token
from tests.support.channels import open_channel
from tests.support.kafka_broker import TansuBroker
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests
from tests.support.webhook_signing import PaypalTestSigner, PemServer, stripe_body, stripe_header

TOPIC = "payment.events"
SECRET = "whsec_disputes_e2e"
WEBHOOK_ID = "WH-DISPUTES-E2E"


@pytest.fixture(scope="module")
def disputes_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_disputes") as url:
        yield url


@pytest.fixture(scope="module")
async def broker() -> AsyncIterator[TansuBroker]:
    server = TansuBroker()
    await server.start(topics=(TOPIC,))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def signer() -> PaypalTestSigner:
    return PaypalTestSigner.create()


@pytest.fixture(scope="module")
async def pem_server(signer: PaypalTestSigner) -> AsyncIterator[PemServer]:
    server = PemServer(signer.pem)
    await server.start()
    yield server
    await server.close()


@pytest.fixture(scope="module")
async def dispute_app(
    disputes_database_url: str,
    broker: TansuBroker,
    signer: PaypalTestSigner,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[PaymentApplication]:
    bundle = tmp_path_factory.mktemp("paypal-ca") / "roots.pem"
    bundle.write_bytes(signer.root_pem)
    settings = settings_for_tests(
        kafka_brokers=broker.bootstrap,
        kafka_enable_idempotence=False,  # Tansu has no InitProducerId
        outbox_poll_interval_seconds=0.05,
        stripe_webhook_secret=SECRET,
        paypal_webhook_id=WEBHOOK_ID,
        paypal_cert_hosts="127.0.0.1",
        paypal_cert_ca_bundle=bundle,
        dispute_ratio_alert_threshold=0.25,
    )
    app = PaymentApplication(
        settings, disputes_database_url, gateways={GatewayName.SIMULATOR: SimulatorGateway()}
    )
    await app.start()
    yield app
    await app.stop(grace=1)


@pytest.fixture(scope="module")
async def chan(dispute_app: PaymentApplication) -> AsyncIterator[grpc.aio.Channel]:
    async with open_channel(f"127.0.0.1:{dispute_app.grpc_port}") as channel:
        yield channel


class Topic:
    """What the broker holds for some orders, read from the beginning."""

    def __init__(self, reader: AIOKafkaConsumer) -> None:
        self._reader = reader
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def types_for(self, order_id: str) -> list[str]:
        for batch in (await self._reader.getmany(timeout_ms=100)).values():
            self.records.extend(batch)
        return [dict(r.headers)["ce_type"].decode() for r in self.of(order_id)]

    def of(self, order_id: str) -> list[ConsumerRecord[bytes, bytes]]:
        return [r for r in self.records if (r.key or b"").decode() == order_id]


@pytest.fixture
async def topic(broker: TansuBroker) -> AsyncIterator[Topic]:
    reader = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await reader.start()
    yield Topic(reader)
    await reader.stop()


async def captured_payment(chan: grpc.aio.Channel) -> payment_pb2.Payment:
    payments = PaymentServiceStub(chan)
    created = await payments.CreatePayment(create_request(authorize=True, amount_minor=2500))
    captured = await payments.CapturePayment(
        pb.CapturePaymentRequest(payment_id=created.payment.payment_id, request_id=new_id())
    )
    assert captured.payment.status == payment_pb2.PAYMENT_STATUS_CAPTURED
    return captured.payment


async def stripe_dispute(
    chan: grpc.aio.Channel, kind: str, dispute_id: str, payment: Any, status: str
) -> None:
    body = stripe_body(
        f"evt_{new_id()}",
        kind,
        {
            "id": dispute_id,
            "object": "dispute",
            "amount": 1000,
            "currency": "eur",
            "reason": "fraudulent",
            "status": status,
            "payment_intent": payment.gateway_payment_id,
        },
    )
    header = stripe_header(body, SECRET, int(time.time()))
    request = wpb.HandleStripeWebhookRequest(
        body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
    )
    answer = await WebhookServiceStub(chan).HandleStripeWebhook(
        request, metadata=(("stripe-signature", header),)
    )
    assert answer.processed


async def get_payment(chan: grpc.aio.Channel, payment_id: str) -> payment_pb2.Payment:
    found = await PaymentServiceStub(chan).GetPayment(pb.GetPaymentRequest(payment_id=payment_id))
    return found.payment


async def test_a_stripe_dispute_shows_in_the_list_on_the_payment_and_as_an_event(
    dispute_app: PaymentApplication, chan: grpc.aio.Channel, topic: Topic
) -> None:
    payment = await captured_payment(chan)
    gateway_dispute_id = f"dp_{new_id()}"
    await stripe_dispute(
        chan, "charge.dispute.created", gateway_dispute_id, payment, "needs_response"
    )

    disputes = DisputeServiceStub(chan)
    listed = await disputes.ListDisputes(
        dpb.ListDisputesRequest(filter=f'payment_id = "{payment.payment_id}"')
    )
    [dispute] = listed.disputes
    assert (dispute.gateway_dispute_id, dispute.amount_minor, dispute.currency) == (
        gateway_dispute_id, 1000, "EUR",
    )  # fmt: skip
    assert dispute.status == payment_pb2.DISPUTE_STATUS_OPENED
    assert dispute.gateway == payment_pb2.GATEWAY_STRIPE and dispute.reason == "fraudulent"
    got = await disputes.GetDispute(dpb.GetDisputeRequest(dispute_id=dispute.dispute_id))
    assert got.dispute == dispute
    # The published client reads them too.
    async with PaymentsClient(f"127.0.0.1:{dispute_app.grpc_port}", token=admin_token) as client:
        through_client = await client.get_dispute(
            dpb.GetDisputeRequest(dispute_id=dispute.dispute_id)
        )
    assert through_client.dispute == dispute
    async with BetterprotoClient(f"127.0.0.1:{dispute_app.grpc_port}", token=admin_token) as typed:
        listed_typed = await typed.list_disputes(
            betterproto.ListDisputesRequest(filter=f'payment_id = "{payment.payment_id}"')
        )
    assert [d.dispute_id for d in listed_typed.disputes] == [dispute.dispute_id]
    assert listed_typed.disputes[0].status == betterproto.DisputeStatus.OPENED

    shown = await get_payment(chan, payment.payment_id)
    assert shown.disputed_amount_minor == 1000
    assert shown.dispute_status == payment_pb2.DISPUTE_STATUS_OPENED
    assert shown.net_amount_minor == 2500  # an open dispute takes nothing yet

    async def disputed_published() -> bool:
        return "payment.disputed" in await topic.types_for(payment.order_id)

    await eventually(disputed_published, within=20)
    [record] = [
        r for r in topic.of(payment.order_id) if dict(r.headers)["ce_type"] == b"payment.disputed"
    ]
    event = parse_payment_event(record.value or b"", headers=record.headers)
    assert isinstance(event, PaymentDisputed)
    assert (event.dispute_id, event.payment_id, event.order_id) == (
        dispute.dispute_id, payment.payment_id, payment.order_id,
    )  # fmt: skip
    assert (event.amount, event.amount_minor, event.currency) == (Decimal("10.00"), 1000, "EUR")
    assert (event.status, event.gateway, event.reason) == ("OPENED", "STRIPE", "fraudulent")

    # Lost: the amount is taken back, and the payment's net amount says so.
    await stripe_dispute(chan, "charge.dispute.closed", gateway_dispute_id, payment, "lost")
    shown = await get_payment(chan, payment.payment_id)
    assert shown.dispute_status == payment_pb2.DISPUTE_STATUS_LOST
    assert (shown.disputed_amount_minor, shown.net_amount_minor) == (1000, 1500)
    lost = await disputes.ListDisputes(
        dpb.ListDisputesRequest(
            filter=f'status = DISPUTE_STATUS_LOST AND payment_id = "{payment.payment_id}"'
        )
    )
    assert [d.dispute_id for d in lost.disputes] == [dispute.dispute_id]
    assert lost.disputes[0].HasField("closed_at")

    async def closed_published() -> bool:
        return "payment.dispute_closed" in await topic.types_for(payment.order_id)

    await eventually(closed_published, within=20)
    [closed] = [
        parse_payment_event(r.value or b"", headers=r.headers)
        for r in topic.of(payment.order_id)
        if dict(r.headers)["ce_type"] == b"payment.dispute_closed"
    ]
    assert isinstance(closed, PaymentDisputeClosed)
    assert (closed.outcome, closed.status, closed.amount_minor) == ("LOST", "LOST", 1000)


async def test_a_paypal_dispute_shows_in_the_list_on_the_payment_and_as_an_event(
    chan: grpc.aio.Channel, topic: Topic, signer: PaypalTestSigner, pem_server: PemServer
) -> None:
    payment = await captured_payment(chan)
    [capture] = [t for t in payment.transactions if t.type == payment_pb2.TRANSACTION_TYPE_CAPTURE]
    gateway_dispute_id = f"PP-D-{new_id()}"

    async def paypal(event_type: str, resource: dict[str, Any]) -> None:
        body = json.dumps(
            {
                "id": f"WH-{new_id()}",
                "event_type": event_type,
                "create_time": "2026-12-07T12:00:00Z",
                "resource": {
                    "dispute_id": gateway_dispute_id,
                    "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                    "dispute_amount": {"currency_code": "EUR", "value": "7.50"},
                    "disputed_transactions": [
                        {"seller_transaction_id": capture.gateway_transaction_id}
                    ],
                }
                | resource,
            }
        ).encode()
        headers = signer.headers(body, WEBHOOK_ID, pem_server.cert_url, transmission_id=new_id())
        answer = await WebhookServiceStub(chan).HandlePaypalWebhook(
            wpb.HandlePaypalWebhookRequest(body=httpbody_pb2.HttpBody(data=body)),
            metadata=tuple(headers.items()),
        )
        assert answer.processed

    await paypal("CUSTOMER.DISPUTE.CREATED", {"status": "OPEN"})

    listed = await DisputeServiceStub(chan).ListDisputes(
        dpb.ListDisputesRequest(
            filter=f'status = OPENED AND gateway = GATEWAY_PAYPAL AND payment_id = "{payment.payment_id}"'  # noqa: E501
        )
    )
    [dispute] = listed.disputes
    assert (dispute.gateway_dispute_id, dispute.amount_minor) == (gateway_dispute_id, 750)
    assert dispute.reason == "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"

    shown = await get_payment(chan, payment.payment_id)
    assert (shown.disputed_amount_minor, shown.net_amount_minor) == (750, 2500)
    assert shown.dispute_status == payment_pb2.DISPUTE_STATUS_OPENED

    async def disputed_published() -> bool:
        return "payment.disputed" in await topic.types_for(payment.order_id)

    await eventually(disputed_published, within=20)
    [event] = [
        parse_payment_event(r.value or b"", headers=r.headers)
        for r in topic.of(payment.order_id)
        if dict(r.headers)["ce_type"] == b"payment.disputed"
    ]
    assert isinstance(event, PaymentDisputed)
    assert (event.gateway, event.amount, event.dispute_id) == (
        "PAYPAL", Decimal("7.50"), dispute.dispute_id,
    )  # fmt: skip

    # Resolved for the seller: won, the money stays.
    await paypal(
        "CUSTOMER.DISPUTE.RESOLVED",
        {"status": "RESOLVED", "dispute_outcome": {"outcome_code": "RESOLVED_SELLER_FAVOUR"}},
    )
    shown = await get_payment(chan, payment.payment_id)
    assert shown.dispute_status == payment_pb2.DISPUTE_STATUS_WON
    assert (shown.disputed_amount_minor, shown.net_amount_minor) == (750, 2500)

    async def closed_published() -> bool:
        return "payment.dispute_closed" in await topic.types_for(payment.order_id)

    await eventually(closed_published, within=20)
    [closed] = [
        parse_payment_event(r.value or b"", headers=r.headers)
        for r in topic.of(payment.order_id)
        if dict(r.headers)["ce_type"] == b"payment.dispute_closed"
    ]
    assert isinstance(closed, PaymentDisputeClosed) and closed.outcome == "WON"


async def test_list_disputes_pages_newest_first_and_refuses_what_it_cannot_read(
    chan: grpc.aio.Channel,
) -> None:
    payment = await captured_payment(chan)
    for n in range(3):
        await stripe_dispute(
            chan, "charge.dispute.created", f"dp_{n}_{new_id()}", payment, "needs_response"
        )
    disputes = DisputeServiceStub(chan)
    mine = f'payment_id = "{payment.payment_id}"'
    first = await disputes.ListDisputes(dpb.ListDisputesRequest(page_size=2, filter=mine))
    assert len(first.disputes) == 2 and first.next_page_token
    rest = await disputes.ListDisputes(
        dpb.ListDisputesRequest(page_size=2, filter=mine, page_token=first.next_page_token)
    )
    assert len(rest.disputes) == 1 and not rest.next_page_token
    listed = [*first.disputes, *rest.disputes]
    assert len({d.dispute_id for d in listed}) == 3
    stamps = [(d.created_at.ToDatetime(), d.dispute_id) for d in listed]
    assert stamps == sorted(stamps, reverse=True)

    other = await rpc_error(
        disputes.ListDisputes(
            dpb.ListDisputesRequest(filter="status = OPENED", page_token=first.next_page_token)
        )
    )
    assert (other.code, other.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert list(other.field_violations) == ["page_token"]
    bad = await rpc_error(disputes.ListDisputes(dpb.ListDisputesRequest(filter="amount > 5")))
    assert list(bad.field_violations) == ["filter"]
    assert "unknown field" in bad.field_violations["filter"]
    missing = await rpc_error(disputes.GetDispute(dpb.GetDisputeRequest(dispute_id=new_id())))
    assert (missing.code, missing.reason) == (grpc.StatusCode.NOT_FOUND, "DISPUTE_NOT_FOUND")
    malformed = await rpc_error(disputes.GetDispute(dpb.GetDisputeRequest(dispute_id="x")))
    assert list(malformed.field_violations) == ["dispute_id"]


async def scraped(app: PaymentApplication) -> dict[tuple[str, str], float]:
    """(sample name, status label) -> value, from the ops port's /metrics, as Prometheus reads
    it."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.ops_port}") as client:
        answer = await client.get("/metrics", timeout=10)
    assert answer.status_code == 200
    return {
        (sample.name, sample.labels.get("status", "")): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


async def test_metrics_count_disputes_by_status_and_the_ratio_against_its_threshold(
    dispute_app: PaymentApplication, chan: grpc.aio.Channel
) -> None:
    """The module's own database: every dispute and payment in it is this module's."""
    payment = await captured_payment(chan)
    await stripe_dispute(
        chan, "charge.dispute.created", f"dp_{new_id()}", payment, "needs_response"
    )
    disputes = DisputeServiceStub(chan)
    by_status: dict[str, int] = {}
    for status in ("OPENED", "WON", "LOST", "CLOSED"):
        listed = await disputes.ListDisputes(
            dpb.ListDisputesRequest(page_size=500, filter=f"status = {status}")
        )
        by_status[status] = len(listed.disputes)
    captured = 0
    payments = PaymentServiceStub(chan)
    for status in ("CAPTURED", "PARTIALLY_REFUNDED", "REFUNDED"):
        listed_payments = await payments.ListPayments(
            pb.ListPaymentsRequest(page_size=500, filter=f"status = PAYMENT_STATUS_{status}")
        )
        captured += len(listed_payments.payments)

    values = await scraped(dispute_app)
    for status, count in by_status.items():
        assert values[("payments_disputes_by_status", status)] == count
    assert by_status["OPENED"] >= 1 and captured >= 1
    ratio = values[("payments_dispute_ratio", "")]
    assert ratio == pytest.approx(sum(by_status.values()) / captured)
    assert values[("payments_dispute_ratio_alert_threshold", "")] == 0.25
