"""Regional payment methods end to end: what a deployment offers (ListAvailablePaymentMethods,
over gRPC and REST), a method no gateway takes refused at creation, and a bank transfer at
Stripe (localstripe, taught the flow in tests/support/localstripe_bank_transfers.py) that
waits with its instructions and completes from Stripe's signed webhook, its events published
to Kafka (Tansu).

The server has a database of its own: its relay publishes every outbox row it finds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import grpc
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from payments.v1 import payment_method_service_pb2 as mpb
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_method_service_pb2_grpc import PaymentMethodServiceStub
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, rpc_error
from tests.support import databases
from tests.support.channels import open_channel, rest_headers
from tests.support.kafka_broker import TansuBroker
from tests.support.localstripe import API_KEY, LocalStripe, send_bank_transfer
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests

SECRET = "whsec_bank_transfers_e2e"
TOPIC = "payment.events"
ROUTES = [
    {"method_types": ["BANK_TRANSFER"], "gateways": ["STRIPE"]},
    {"method_types": ["CREDIT_CARD", "DEBIT_CARD"], "gateways": ["STRIPE", "SIMULATOR"]},
    {"gateways": ["SIMULATOR"]},
]
BANK = "PAYMENT_METHOD_TYPE_BANK_TRANSFER"


@dataclass
class Deployment:
    app: PaymentApplication
    payments: PaymentServiceStub
    methods: PaymentMethodServiceStub
    localstripe: str
    broker: TansuBroker


@pytest.fixture(scope="module")
def own_database_url(admin_database_url: str) -> Iterator[str]:
    with databases.migrated_database(admin_database_url, "payments_methods") as url:
        yield url


@pytest.fixture(scope="module")
async def deployment(own_database_url: str) -> AsyncIterator[Deployment]:
    stripe, broker = LocalStripe(), TansuBroker()
    await stripe.start()
    await broker.start(topics=(TOPIC,))
    application = PaymentApplication(
        settings_for_tests(
            stripe_api_key=API_KEY,
            stripe_api_base=stripe.url,
            stripe_webhook_secret=SECRET,
            gateway_routes=json.dumps(ROUTES),
            kafka_brokers=broker.bootstrap,
            kafka_enable_idempotence=False,  # Tansu has no InitProducerId
            outbox_poll_interval_seconds=0.05,
        ),
        own_database_url,
    )
    await application.start()
    try:
        async with httpx.AsyncClient(base_url=stripe.url, timeout=10) as client:
            endpoint = f"http://127.0.0.1:{application.rest_port}/api/v1/webhooks/stripe"
            configured = await client.post(
                "/_config/webhooks/payment-service", data={"url": endpoint, "secret": SECRET}
            )
            configured.raise_for_status()
        async with open_channel(f"127.0.0.1:{application.grpc_port}") as channel:
            yield Deployment(
                application,
                PaymentServiceStub(channel),
                PaymentMethodServiceStub(channel),
                stripe.url,
                broker,
            )
    finally:
        await application.stop(grace=1)
        broker.stop()
        stripe.close()


def offered(answer: mpb.ListAvailablePaymentMethodsResponse) -> list[tuple[str, str]]:
    return [
        (payment_pb2.PaymentMethodType.Name(m.type), payment_pb2.Gateway.Name(m.gateway))
        for m in answer.available_payment_methods
    ]


async def test_what_the_deployment_offers(deployment: Deployment) -> None:
    euros = await deployment.methods.ListAvailablePaymentMethods(
        mpb.ListAvailablePaymentMethodsRequest(country="DE", currency="EUR", amount_minor=10_000)
    )
    assert offered(euros) == [
        ("PAYMENT_METHOD_TYPE_CREDIT_CARD", "GATEWAY_STRIPE"),
        ("PAYMENT_METHOD_TYPE_CREDIT_CARD", "GATEWAY_SIMULATOR"),
        ("PAYMENT_METHOD_TYPE_DEBIT_CARD", "GATEWAY_STRIPE"),
        ("PAYMENT_METHOD_TYPE_DEBIT_CARD", "GATEWAY_SIMULATOR"),
        ("PAYMENT_METHOD_TYPE_PAYPAL", "GATEWAY_SIMULATOR"),
        (BANK, "GATEWAY_STRIPE"),
    ]
    # Stripe takes no bank transfers in Swiss francs, nor below its minimum charge.
    for currency, amount in (("CHF", 10_000), ("EUR", 49)):
        answer = await deployment.methods.ListAvailablePaymentMethods(
            mpb.ListAvailablePaymentMethodsRequest(
                country="CH", currency=currency, amount_minor=amount
            )
        )
        assert BANK not in [t for t, _ in offered(answer)]
        assert ("PAYMENT_METHOD_TYPE_CREDIT_CARD", "GATEWAY_STRIPE") in offered(answer)
    # No crypto anywhere: no configured gateway takes it.
    assert "PAYMENT_METHOD_TYPE_CRYPTO" not in [t for t, _ in offered(euros)]


async def test_the_offer_over_rest(deployment: Deployment) -> None:
    base_url = f"http://127.0.0.1:{deployment.app.rest_port}"
    async with httpx.AsyncClient(base_url=base_url, headers=rest_headers()) as client:
        answer = await client.get(
            "/api/v1/payment-methods/available",
            params={"country": "FR", "currency": "GBP", "amount_minor": "2500"},
        )
        invalid = await client.get(
            "/api/v1/payment-methods/available", params={"country": "FRA", "currency": "eur"}
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()["available_payment_methods"]
    assert {"type": BANK, "gateway": "GATEWAY_STRIPE"} in body
    assert invalid.status_code == 400
    fields = {v["field"] for d in invalid.json()["error"]["details"]
              for v in d.get("field_violations", [])}  # fmt: skip
    assert fields == {"country", "currency"}


async def test_invalid_queries_name_their_fields(deployment: Deployment) -> None:
    error = await rpc_error(
        deployment.methods.ListAvailablePaymentMethods(
            mpb.ListAvailablePaymentMethodsRequest(country="de", amount_minor=-1)
        )
    )
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert set(error.field_violations) == {"country", "currency", "amount_minor"}
    unknown = await rpc_error(
        deployment.methods.ListAvailablePaymentMethods(
            mpb.ListAvailablePaymentMethodsRequest(currency="XYZ")
        )
    )
    assert unknown.reason == "UNSUPPORTED_CURRENCY"


async def test_crypto_is_refused_naming_what_is_taken(deployment: Deployment) -> None:
    error = await rpc_error(
        deployment.payments.CreatePayment(
            create_request(
                payment_method_type="PAYMENT_METHOD_TYPE_CRYPTO", payment_method_token="wallet_1"
            )
        )
    )
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "PAYMENT_METHOD_UNAVAILABLE",
    )
    assert error.metadata["payment_method_type"] == "CRYPTO"
    assert error.metadata["available_payment_method_types"] == (
        "CREDIT_CARD,DEBIT_CARD,PAYPAL,BANK_TRANSFER"
    )
    assert "BANK_TRANSFER" in error.message
    # Taken by Stripe, but not in this currency: no gateway for this payment.
    francs = await rpc_error(
        deployment.payments.CreatePayment(
            create_request(payment_method_type=BANK, payment_method_token="", currency="CHF")
        )
    )
    assert francs.reason == "NO_GATEWAY_AVAILABLE"


async def _stripe(base_url: str, path: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, auth=(API_KEY, ""), timeout=10) as client:
        response = await client.get(path)
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


async def test_a_bank_transfer_waits_then_completes_from_the_signed_webhook(
    deployment: Deployment,
) -> None:
    payments = deployment.payments
    reader = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=deployment.broker.bootstrap, auto_offset_reset="earliest",
        group_id=None,
    )  # fmt: skip
    await reader.start()
    try:
        created = await payments.CreatePayment(
            create_request(
                payment_method_type=BANK,
                payment_method_token="",
                amount_minor=25_000,
                currency="EUR",
                country="DE",
                authorize=True,
            )
        )
        payment = created.payment
        assert payment.status == payment_pb2.PAYMENT_STATUS_REQUIRES_ACTION
        assert payment.gateway == payment_pb2.GATEWAY_STRIPE
        action = payment.next_action
        assert action.type == payment_pb2.NEXT_ACTION_TYPE_DISPLAY_BANK_TRANSFER_INSTRUCTIONS
        shown = action.bank_transfer_instructions
        assert (shown.type, shown.amount_remaining_minor, shown.currency) == (
            "eu_bank_transfer", 25_000, "EUR"
        )  # fmt: skip
        assert shown.reference and action.url.startswith("https://")
        (account,) = shown.accounts
        assert (account.type, account.country) == ("iban", "DE")
        assert account.iban.startswith("DE") and account.bic
        # Stored: read back as it was answered.
        read = await payments.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
        assert read.payment.next_action == action

        intent = await _stripe(deployment.localstripe,
                               f"/v1/payment_intents/{payment.gateway_payment_id}")  # fmt: skip
        customer = intent["customer"]
        # Part of the money first: the payment waits on, showing what is left.
        await send_bank_transfer(deployment.localstripe, customer, 10_000, "EUR", shown.reference)

        async def shows_the_rest() -> bool:
            answer = await payments.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
            left = answer.payment.next_action.bank_transfer_instructions.amount_remaining_minor
            return bool(left == 15_000)

        await eventually(shows_the_rest, within=20)
        waiting = await payments.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
        assert waiting.payment.status == payment_pb2.PAYMENT_STATUS_REQUIRES_ACTION
        await send_bank_transfer(deployment.localstripe, customer, 15_000, "EUR", shown.reference)

        async def is_paid() -> bool:
            answer = await payments.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
            return bool(answer.payment.status == payment_pb2.PAYMENT_STATUS_CAPTURED)

        await eventually(is_paid, within=20)
        final = await payments.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
        assert final.payment.captured_amount_minor == 25_000
        assert not final.payment.HasField("next_action")

        events: list[dict[str, Any]] = []

        async def published() -> bool:
            for records in (await reader.getmany(timeout_ms=100)).values():
                for record in records:
                    if (record.key or b"").decode() == payment.order_id:
                        headers = {k: v.decode() for k, v in record.headers}
                        event = json.loads(record.value or b"", parse_float=Decimal)
                        events.append(event | {"type": headers["ce_type"]})
            return "payment.successful" in [e["type"] for e in events]

        await eventually(published, within=20)
    finally:
        await reader.stop()
    completed = {e["type"]: e for e in events}
    assert {"payment.authorized", "payment.successful"} <= set(completed)
    assert completed["payment.successful"]["paymentMethod"] == "BANK_TRANSFER"
    assert completed["payment.successful"]["amount"] == Decimal("250.00")
