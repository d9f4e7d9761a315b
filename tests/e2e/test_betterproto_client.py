"""The betterproto2 client (clients/betterproto: dataclass messages over grpclib) against a
real server: a checkout, the same typed errors as the grpcio client, and the shared retry
rules driven by real faults - a proxy that refuses, stalls or cuts connections, a gateway
held mid-call so the same key is IN_USE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import grpc
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from infra.db.tables import idempotency_keys
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_service_pb2 as pb
from payments_betterproto import (
    AlreadyExists,
    Conflict,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PaymentDeclined,
    PaymentsClient,
    PaymentsError,
    Unavailable,
    v1,
)
from server.app import PaymentApplication
from tests.e2e.helpers import gateway_effects, new_id
from tests.e2e.test_python_client import HeldSimulator
from tests.support.auth import admin_token
from tests.support.channels import open_channel
from tests.support.client_retries import QUICK, Retries
from tests.support.faulty_proxy import FaultyProxy, Mode
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests

T = TypeVar("T")


def client(target: str, retries: Retries | None = None, **kwargs: Any) -> PaymentsClient:
    return PaymentsClient(
        target,
        token=kwargs.pop("token", admin_token),
        settings=kwargs.pop("settings", QUICK),
        on_retry=retries,
        **kwargs,
    )


def present(field: T | None) -> T:
    """A message field of an answer (betterproto2 types them Optional), there."""
    assert field is not None
    return field


def payment_request(**overrides: Any) -> v1.CreatePaymentRequest:
    """A dataclass request without a request_id unless given: the client makes one."""
    fields: dict[str, Any] = {
        "order_id": new_id(),
        "user_id": new_id(),
        "amount_minor": 1099,
        "currency": "EUR",
        "payment_method_type": v1.PaymentMethodType.CREDIT_CARD,
        "payment_method_token": "pm_card_visa",
    }
    return v1.CreatePaymentRequest(**(fields | overrides))


@pytest.fixture
async def proxy(app: PaymentApplication) -> AsyncIterator[FaultyProxy]:
    faulty = FaultyProxy(app.grpc_port)
    await faulty.start()
    yield faulty
    await faulty.close()


async def test_a_checkout_through_the_betterproto_client(
    app: PaymentApplication, payments_stub: Any
) -> None:
    asked = 0

    async def token() -> str:
        nonlocal asked
        asked += 1
        return admin_token()

    async with client(f"127.0.0.1:{app.grpc_port}", token=token) as payments:
        created = await payments.create_payment(payment_request())
        pid = present(created.payment).payment_id
        await payments.authorize_payment(v1.AuthorizePaymentRequest(payment_id=pid))
        await payments.capture_payment(v1.CapturePaymentRequest(payment_id=pid, amount_minor=500))
        got = await payments.get_payment(v1.GetPaymentRequest(payment_id=pid))
    assert isinstance(got, v1.GetPaymentResponse)
    assert present(got.payment).status is v1.PaymentStatus.CAPTURED
    assert present(got.payment).captured_amount_minor == 500
    assert asked == 4  # asked before each call: a provider may refresh its token
    # The grpcio stubs read the same payment: one contract, two generated clients.
    seen = await payments_stub.GetPayment(pb.GetPaymentRequest(payment_id=pid))
    assert (seen.payment.order_id, seen.payment.captured_amount_minor) == (
        present(created.payment).order_id,
        500,
    )


async def test_the_key_is_the_callers_when_given_and_replays(
    app: PaymentApplication, simulator: SimulatorGateway
) -> None:
    request = payment_request(authorize=True)
    key = new_id()
    async with client(f"127.0.0.1:{app.grpc_port}") as payments:
        first = await payments.create_payment(request, request_id=key)
        effects = len(simulator.effects)
        again = await payments.create_payment(request, request_id=key)
        # Without a key of its own each call is a new logical call: a new key, refused as a
        # second payment of the order.
        with pytest.raises(AlreadyExists) as other:
            await payments.create_payment(request)
    assert again == first
    assert len(simulator.effects) == effects
    assert request.request_id == ""  # the caller's message is left as it was
    assert other.value.metadata["payment_id"] == present(first.payment).payment_id
    assert other.value.request_id and other.value.request_id != key


async def test_errors_are_the_grpcio_clients_typed_errors_and_final_ones_are_not_retried(
    app: PaymentApplication,
) -> None:
    retries = Retries()
    async with client(f"127.0.0.1:{app.grpc_port}", retries) as payments:
        with pytest.raises(NotFound) as missing:
            await payments.get_payment(v1.GetPaymentRequest(payment_id=new_id()))
        with pytest.raises(InvalidArgument) as invalid:
            await payments.create_payment(payment_request(currency="EURO", amount_minor=-5))
        created = await payments.create_payment(
            payment_request(payment_method_token="pm_card_chargeDeclinedInsufficientFunds")
        )
        with pytest.raises(PaymentDeclined) as declined:
            await payments.authorize_payment(
                v1.AuthorizePaymentRequest(payment_id=present(created.payment).payment_id)
            )
    assert missing.value.reason == "PAYMENT_NOT_FOUND"
    assert missing.value.code is grpc.StatusCode.NOT_FOUND
    assert {"currency", "amount_minor"} <= invalid.value.field_violations.keys()
    assert declined.value.decline_code == "INSUFFICIENT_FUNDS"
    assert declined.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert declined.value.request_id  # the key the failed call carried
    assert retries.seen == []


async def test_a_lost_answer_is_retried_with_the_same_key_and_acts_once(
    proxy: FaultyProxy, engine: AsyncEngine, simulator: SimulatorGateway
) -> None:
    retries = Retries()
    async with client(proxy.target, retries) as payments:
        created = await payments.create_payment(payment_request(authorize=True))
        pid = present(created.payment).payment_id
        proxy.cut_next_answer()  # the capture is done, its answer never arrives
        captured = await payments.capture_payment(v1.CapturePaymentRequest(payment_id=pid))
    assert proxy.cuts == 1
    # The retry may find the first attempt still finishing on the server: IN_USE, retried.
    first, *others = retries.errors
    assert isinstance(first, Unavailable)
    assert all(error.reason == "IDEMPOTENCY_KEY_IN_USE" for error in others)
    assert {error.request_id for error in retries.errors} == {first.request_id}
    assert first.request_id
    assert present(captured.payment).status is v1.PaymentStatus.CAPTURED
    operations = [op for op, _, _ in await gateway_effects(engine, simulator, pid)]
    assert operations == ["authorize", "capture"]  # captured once, not twice


async def test_a_keyed_call_is_retried_after_its_deadline_with_one_key_and_acts_once(
    proxy: FaultyProxy, engine: AsyncEngine, simulator: SimulatorGateway
) -> None:
    retries = Retries(on_first=lambda: proxy.set_mode(Mode.PASS))
    async with client(proxy.target, retries) as payments:
        created = await payments.create_payment(payment_request(authorize=True))
        pid = present(created.payment).payment_id
        await payments.capture_payment(v1.CapturePaymentRequest(payment_id=pid))
        proxy.hold_answers()  # the refund is done, its answer comes too late
        refunded = await payments.refund_payment(
            v1.RefundPaymentRequest(payment_id=pid), timeout=1.0
        )
    assert isinstance(retries.errors[0], DeadlineExceeded)
    keys = {error.request_id for error in retries.errors}
    assert len(keys) == 1 and "" not in keys  # one key for every attempt
    assert present(refunded.refund).amount_minor == present(created.payment).amount_minor
    operations = [op for op, _, _ in await gateway_effects(engine, simulator, pid)]
    assert operations.count("refund") == 1  # refunded once, not twice


async def test_a_read_is_retried_after_refused_connections(proxy: FaultyProxy) -> None:
    proxy.set_mode(Mode.RESET)
    retries = Retries(on_first=lambda: proxy.set_mode(Mode.PASS))
    async with client(proxy.target, retries) as payments:
        with pytest.raises(NotFound):  # it reached the server in the end
            await payments.get_payment_status(v1.GetPaymentStatusRequest(payment_id=new_id()))
    assert retries.errors and isinstance(retries.errors[0], Unavailable)
    assert retries.errors[0].request_id == ""  # a read carries no key
    assert proxy.accepted >= 2


@pytest.fixture(scope="module")
async def held_app(database_url: str) -> AsyncIterator[PaymentApplication]:
    application = PaymentApplication(
        settings_for_tests(), database_url, gateways={GatewayName.SIMULATOR: HeldSimulator()}
    )
    await application.start()
    yield application
    await application.stop(grace=1)


async def test_a_key_in_use_is_retried_until_the_first_call_answers(
    held_app: PaymentApplication, engine: AsyncEngine
) -> None:
    gateway = held_app.gateways[GatewayName.SIMULATOR]
    assert isinstance(gateway, HeldSimulator)
    gateway.gate.clear()
    key = new_id()
    request = payment_request(request_id=key, authorize=True)
    async with open_channel(f"127.0.0.1:{held_app.grpc_port}") as channel:
        # The first call, through grpcio, with the same key and the same request.
        first = asyncio.ensure_future(
            channel.unary_unary(
                "/payments.v1.PaymentService/CreatePayment",
                request_serializer=pb.CreatePaymentRequest.SerializeToString,
                response_deserializer=pb.CreatePaymentResponse.FromString,
            )(pb.CreatePaymentRequest.FromString(bytes(request)))
        )

        async def first_holds_the_key() -> bool:
            query = select(idempotency_keys.c.state).where(idempotency_keys.c.key == key)
            async with engine.connect() as conn:
                return await conn.scalar(query) == "IN_PROGRESS"

        await eventually(first_holds_the_key)
        retries = Retries(on_first=gateway.gate.set)  # the first call finishes meanwhile
        async with client(f"127.0.0.1:{held_app.grpc_port}", retries) as payments:
            second = await payments.create_payment(request)
        answered = await first
    assert isinstance(retries.errors[0], Conflict)
    assert retries.errors[0].reason == "IDEMPOTENCY_KEY_IN_USE"
    assert present(second.payment).payment_id == answered.payment.payment_id
    assert present(second.payment).status is v1.PaymentStatus.AUTHORIZED


async def test_from_env_reads_the_target_and_the_token(app: PaymentApplication) -> None:
    env = {"PAYMENTS_GRPC_TARGET": f"http://127.0.0.1:{app.grpc_port}"}
    async with PaymentsClient.from_env(env | {"PAYMENTS_TOKEN": admin_token()}) as payments:
        with pytest.raises(NotFound):
            await payments.get_payment(v1.GetPaymentRequest(payment_id=new_id()))
    async with PaymentsClient.from_env(env) as anonymous:
        with pytest.raises(PaymentsError) as refused:
            await anonymous.get_payment(v1.GetPaymentRequest(payment_id=new_id()))
    assert refused.value.code is grpc.StatusCode.UNAUTHENTICATED
    assert admin_token() not in repr(payments) + str(refused.value)
