"""WebhookService end to end over gRPC: signed gateway events reach a real server and change
payments made through the API (on the simulator: its gateway ids stand in for Stripe's and
PayPal's, since what is under test is verification, mapping and exactly-once application)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from google.api import httpbody_pb2
from sqlalchemy import select

from domain.enums import GatewayName
from infra.db.tables import disputes, outbox, webhook_events
from infra.db.webhooks import stored_webhook_payload
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_pb2, payment_service_pb2_grpc, webhook_service_pb2_grpc
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import webhook_service_pb2 as wpb
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, new_id, rpc_error
from tests.support.channels import open_channel
from tests.support.servers import settings_for_tests
from tests.support.webhook_signing import PaypalTestSigner, PemServer, stripe_body, stripe_header

SECRET = "whsec_e2e_current"
WEBHOOK_ID = "WH-E2E"


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
async def webhook_app(
    database_url: str, signer: PaypalTestSigner, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PaymentApplication]:
    # The test CA stands in for certifi's bundle: PayPal's chain would lead to DigiCert.
    bundle = tmp_path_factory.mktemp("paypal-ca") / "roots.pem"
    bundle.write_bytes(signer.root_pem)
    settings = settings_for_tests(
        stripe_webhook_secret=f"whsec_e2e_previous,{SECRET}",
        paypal_webhook_id=WEBHOOK_ID,
        paypal_cert_hosts="127.0.0.1",
        paypal_cert_ca_bundle=bundle,
    )
    app = PaymentApplication(
        settings, database_url, gateways={GatewayName.SIMULATOR: SimulatorGateway()}
    )
    await app.start()
    yield app
    await app.stop(grace=1)


@pytest.fixture(scope="module")
async def chan(webhook_app: PaymentApplication) -> AsyncIterator[grpc.aio.Channel]:
    async with open_channel(f"127.0.0.1:{webhook_app.grpc_port}") as channel:
        yield channel


@pytest.fixture(scope="module")
def hooks(chan: grpc.aio.Channel) -> webhook_service_pb2_grpc.WebhookServiceStub:
    return webhook_service_pb2_grpc.WebhookServiceStub(chan)


@pytest.fixture(scope="module")
def payments(chan: grpc.aio.Channel) -> payment_service_pb2_grpc.PaymentServiceStub:
    return payment_service_pb2_grpc.PaymentServiceStub(chan)


async def authorized(payments: Any) -> Any:
    created = await payments.CreatePayment(create_request())
    response = await payments.AuthorizePayment(
        pb.AuthorizePaymentRequest(payment_id=created.payment.payment_id, request_id=new_id())
    )
    assert response.payment.status == payment_pb2.PAYMENT_STATUS_AUTHORIZED
    return response.payment


async def status_of(payments: Any, payment_id: str) -> str:
    response = await payments.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))
    return str(payment_pb2.PaymentStatus.Name(response.payment.status))


def stripe_call(hooks: Any, body: bytes, *, secret: str = SECRET, at: int | None = None) -> Any:
    header = stripe_header(body, secret, int(time.time()) if at is None else at)
    request = wpb.HandleStripeWebhookRequest(
        body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
    )
    return hooks.HandleStripeWebhook(request, metadata=(("stripe-signature", header),))


def succeeded(event_id: str, payment: Any) -> bytes:
    return stripe_body(
        event_id,
        "payment_intent.succeeded",
        {
            "id": payment.gateway_payment_id,
            "object": "payment_intent",
            "status": "succeeded",
            "amount": payment.amount_minor,
            "amount_received": payment.amount_minor,
            "currency": payment.currency.lower(),
            "latest_charge": f"ch_{event_id}",
        },
    )


async def rows(app: PaymentApplication, query: Any) -> list[Any]:
    assert app.engine is not None
    async with app.engine.connect() as conn:
        return list((await conn.execute(query)).mappings())


async def test_signed_succeeded_captures_once_and_publishes_the_event(
    webhook_app: PaymentApplication, hooks: Any, payments: Any
) -> None:
    payment = await authorized(payments)
    event_id = f"evt_{new_id()}"
    first = await stripe_call(hooks, succeeded(event_id, payment))
    assert (first.event_id, first.processed) == (event_id, True)
    assert await status_of(payments, payment.payment_id) == "PAYMENT_STATUS_CAPTURED"
    again = await stripe_call(hooks, succeeded(event_id, payment))
    assert (again.event_id, again.processed) == (event_id, False)
    published = await rows(
        webhook_app, select(outbox.c.event_type).where(outbox.c.aggregate_id == payment.payment_id)
    )
    assert [r["event_type"] for r in published].count("payment.successful") == 1


@pytest.mark.parametrize("case", ["tampered", "stale", "wrong-secret", "missing"])
async def test_bad_signatures_are_invalid_argument_and_store_nothing(
    webhook_app: PaymentApplication, hooks: Any, payments: Any, case: str
) -> None:
    payment = await authorized(payments)
    event_id = f"evt_{new_id()}"
    body = succeeded(event_id, payment)
    if case == "tampered":
        header = stripe_header(body, SECRET, int(time.time()))
        body = body.replace(b"succeeded", b"succeedeX", 1)
    elif case == "stale":
        header = stripe_header(body, SECRET, int(time.time()) - 301)
    elif case == "wrong-secret":
        header = stripe_header(body, "whsec_nope", int(time.time()))
    else:
        header = ""
    request = wpb.HandleStripeWebhookRequest(body=httpbody_pb2.HttpBody(data=body))
    metadata = (("stripe-signature", header),) if header else ()
    error = await rpc_error(hooks.HandleStripeWebhook(request, metadata=metadata))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "WEBHOOK_SIGNATURE_INVALID"
    assert await status_of(payments, payment.payment_id) == "PAYMENT_STATUS_AUTHORIZED"
    stored = await rows(
        webhook_app, select(webhook_events).where(webhook_events.c.event_id == event_id)
    )
    assert stored == []


async def test_a_signed_body_that_is_not_json_is_invalid_argument(hooks: Any) -> None:
    error = await rpc_error(stripe_call(hooks, b"not json"))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "WEBHOOK_PAYLOAD_INVALID"


async def test_a_signed_event_id_with_a_nul_is_invalid_argument_not_internal(
    hooks: Any, payments: Any
) -> None:
    payment = await authorized(payments)
    body = succeeded("evt_\x00x", payment)  # json.dumps writes it \u0000: the body is JSON
    error = await rpc_error(stripe_call(hooks, body))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "WEBHOOK_PAYLOAD_INVALID"
    assert "NUL" in error.message
    assert await status_of(payments, payment.payment_id) == "PAYMENT_STATUS_AUTHORIZED"


async def test_a_late_succeeded_after_a_refund_does_not_move_backwards(
    hooks: Any, payments: Any
) -> None:
    payment = await authorized(payments)
    await payments.CapturePayment(
        pb.CapturePaymentRequest(payment_id=payment.payment_id, request_id=new_id())
    )
    await payments.RefundPayment(
        pb.RefundPaymentRequest(payment_id=payment.payment_id, request_id=new_id(), reason="r")
    )
    assert await status_of(payments, payment.payment_id) == "PAYMENT_STATUS_REFUNDED"
    late = await stripe_call(hooks, succeeded(f"evt_{new_id()}", payment))
    assert late.processed
    assert await status_of(payments, payment.payment_id) == "PAYMENT_STATUS_REFUNDED"


async def test_unknown_type_is_acknowledged_and_recorded(
    webhook_app: PaymentApplication, hooks: Any, payments: Any
) -> None:
    payment = await authorized(payments)
    event_id = f"evt_{new_id()}"
    body = stripe_body(
        event_id,
        "payment_intent.partially_funded",
        {"id": payment.gateway_payment_id, "object": "payment_intent"},
    )
    answer = await stripe_call(hooks, body)
    assert answer.processed
    [row] = await rows(
        webhook_app, select(webhook_events).where(webhook_events.c.event_id == event_id)
    )
    assert row["type"] == "payment_intent.partially_funded"
    assert row["payment_id"] == payment.payment_id
    assert stored_webhook_payload(row, webhook_app.sealer)["id"] == event_id
    assert await status_of(payments, payment.payment_id) == "PAYMENT_STATUS_AUTHORIZED"


async def test_dispute_created_then_closed_keeps_a_chargeback_record(
    webhook_app: PaymentApplication, hooks: Any, payments: Any
) -> None:
    payment = await authorized(payments)
    await stripe_call(hooks, succeeded(f"evt_{new_id()}", payment))
    dispute_id = f"dp_{new_id()}"

    def dispute(status: str) -> dict[str, Any]:
        return {
            "id": dispute_id,
            "object": "dispute",
            "amount": payment.amount_minor,
            "currency": "eur",
            "reason": "fraudulent",
            "status": status,
            "payment_intent": payment.gateway_payment_id,
        }

    await stripe_call(
        hooks, stripe_body(f"evt_{new_id()}", "charge.dispute.created", dispute("needs_response"))
    )
    [row] = await rows(
        webhook_app, select(disputes).where(disputes.c.gateway_dispute_id == dispute_id)
    )
    assert (row["payment_id"], row["status"], row["amount_minor"]) == (
        payment.payment_id,
        "OPENED",
        payment.amount_minor,
    )
    await stripe_call(
        hooks, stripe_body(f"evt_{new_id()}", "charge.dispute.closed", dispute("won"))
    )
    [row] = await rows(
        webhook_app, select(disputes).where(disputes.c.gateway_dispute_id == dispute_id)
    )
    assert row["status"] == "WON" and row["closed_at"] is not None


async def test_charge_refunded_creates_the_refund_once(hooks: Any, payments: Any) -> None:
    payment = await authorized(payments)
    await stripe_call(hooks, succeeded(f"evt_{new_id()}", payment))
    charge = {
        "id": f"ch_{new_id()}",
        "object": "charge",
        "currency": "eur",
        "payment_intent": payment.gateway_payment_id,
        "amount_refunded": 99,
        "refunds": {"data": [{"id": f"re_{new_id()}", "amount": 99, "status": "succeeded"}]},
    }
    for _ in range(2):  # the second under a new event id: the refund id keeps it single
        await stripe_call(hooks, stripe_body(f"evt_{new_id()}", "charge.refunded", charge))
    listed = await payments.ListRefunds(pb.ListRefundsRequest(payment_id=payment.payment_id))
    assert [r.amount_minor for r in listed.refunds] == [99]
    assert await status_of(payments, payment.payment_id) == "PAYMENT_STATUS_PARTIALLY_REFUNDED"


async def test_paypal_signed_capture_completed(
    signer: PaypalTestSigner, pem_server: PemServer, hooks: Any, payments: Any
) -> None:
    payment = await authorized(payments)
    event_id = f"WH-{new_id()}"
    body = json.dumps(
        {
            "id": event_id,
            "event_type": "PAYMENT.CAPTURE.COMPLETED",
            "create_time": "2025-03-01T12:00:00Z",
            "resource": {
                "id": "CAP-1",
                "status": "COMPLETED",
                "amount": {"currency_code": "EUR", "value": "10.99"},
                "supplementary_data": {"related_ids": {"order_id": payment.gateway_payment_id}},
            },
        }
    ).encode()
    headers = signer.headers(body, WEBHOOK_ID, pem_server.cert_url)
    request = wpb.HandlePaypalWebhookRequest(body=httpbody_pb2.HttpBody(data=body))
    tampered = wpb.HandlePaypalWebhookRequest(
        body=httpbody_pb2.HttpBody(data=body.replace(b"10.99", b"0.01"))
    )
    error = await rpc_error(hooks.HandlePaypalWebhook(tampered, metadata=tuple(headers.items())))
    assert error.reason == "WEBHOOK_SIGNATURE_INVALID"
    answer = await hooks.HandlePaypalWebhook(request, metadata=tuple(headers.items()))
    assert (answer.event_id, answer.processed) == (event_id, True)
    assert await status_of(payments, payment.payment_id) == "PAYMENT_STATUS_CAPTURED"


async def test_rest_shim_forwards_a_signed_stripe_webhook(
    webhook_app: PaymentApplication, payments: Any
) -> None:
    payment = await authorized(payments)
    event_id = f"evt_{new_id()}"
    body = succeeded(event_id, payment)
    url = f"http://127.0.0.1:{webhook_app.rest_port}/api/v1/webhooks/stripe"
    async with httpx.AsyncClient(timeout=10) as client:
        bad = await client.post(url, content=body, headers={"Stripe-Signature": "t=1,v1=00"})
        header = stripe_header(body, SECRET, int(time.time()))
        good = await client.post(
            url,
            content=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
    assert bad.status_code == 400
    assert good.status_code == 200, good.text
    answer = good.json()
    assert answer.get("eventId", answer.get("event_id")) == event_id, answer
    assert answer["processed"] is True
    assert await status_of(payments, payment.payment_id) == "PAYMENT_STATUS_CAPTURED"
