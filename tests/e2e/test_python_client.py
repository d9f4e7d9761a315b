"""The published Python client (clients/python) against a real server: typed calls and
errors, and its retry rules driven by real faults - a proxy that refuses, stalls or cuts
connections, a gateway held mid-call so the same key is IN_USE, a real rate limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from infra.db.tables import idempotency_keys
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments_client import (
    AlreadyExists,
    Conflict,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PaymentDeclined,
    PaymentsClient,
    PaymentsError,
    RateLimited,
    SyncPaymentsClient,
    Unavailable,
)
from server.app import PaymentApplication
from tests.e2e.guarded_app import guarded_app
from tests.e2e.helpers import create_request, gateway_effects, new_id
from tests.support.auth import admin_token
from tests.support.channels import open_channel
from tests.support.client_retries import QUICK, Retries
from tests.support.faulty_proxy import FaultyProxy, Mode
from tests.support.polling import eventually
from tests.support.servers import settings_for_tests

# Reconnect at once after a dropped connection, on a connection of this client's own.
FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 200),
    ("grpc.use_local_subchannel_pool", 1),
]


def client(target: str, retries: Retries | None = None, **kwargs: Any) -> PaymentsClient:
    return PaymentsClient(
        target,
        token=kwargs.pop("token", admin_token),
        settings=kwargs.pop("settings", QUICK),
        options=FAST_RECONNECT,
        on_retry=retries,
        **kwargs,
    )


def payment_request(**overrides: Any) -> pb.CreatePaymentRequest:
    request = create_request(**overrides)
    if "request_id" not in overrides:
        request.ClearField("request_id")  # the client makes one
    return request


@pytest.fixture
async def proxy(app: PaymentApplication) -> AsyncIterator[FaultyProxy]:
    faulty = FaultyProxy(app.grpc_port)
    await faulty.start()
    yield faulty
    await faulty.close()


async def test_a_checkout_through_the_client_with_an_async_token_provider(
    app: PaymentApplication,
) -> None:
    asked = 0

    async def token() -> str:
        nonlocal asked
        asked += 1
        return admin_token()

    async with client(f"127.0.0.1:{app.grpc_port}", token=token) as payments:
        created = await payments.create_payment(payment_request())
        pid = created.payment.payment_id
        await payments.authorize_payment(pb.AuthorizePaymentRequest(payment_id=pid))
        await payments.capture_payment(pb.CapturePaymentRequest(payment_id=pid, amount_minor=500))
        got = await payments.get_payment(pb.GetPaymentRequest(payment_id=pid))
    assert got.payment.status == payment_pb2.PAYMENT_STATUS_CAPTURED
    assert got.payment.captured_amount_minor == 500
    assert asked == 4  # asked before each call: a provider may refresh its token


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
        other = await asyncio.gather(payments.create_payment(request), return_exceptions=True)
    assert again == first
    assert len(simulator.effects) == effects
    assert not request.request_id  # the caller's message is left as it was
    [error] = other
    assert isinstance(error, AlreadyExists)
    assert error.metadata["payment_id"] == first.payment.payment_id
    assert error.request_id and error.request_id != key


async def test_errors_are_typed_by_family_and_final_ones_are_not_retried(
    app: PaymentApplication,
) -> None:
    retries = Retries()
    async with client(f"127.0.0.1:{app.grpc_port}", retries) as payments:
        with pytest.raises(NotFound) as missing:
            await payments.get_payment(pb.GetPaymentRequest(payment_id=new_id()))
        with pytest.raises(InvalidArgument) as invalid:
            await payments.create_payment(payment_request(currency="EURO", amount_minor=-5))
        created = await payments.create_payment(
            payment_request(payment_method_token="pm_card_chargeDeclinedInsufficientFunds")
        )
        with pytest.raises(PaymentDeclined) as declined:
            await payments.authorize_payment(
                pb.AuthorizePaymentRequest(payment_id=created.payment.payment_id)
            )
    assert missing.value.reason == "PAYMENT_NOT_FOUND"
    assert {"currency", "amount_minor"} <= invalid.value.field_violations.keys()
    assert declined.value.decline_code == "INSUFFICIENT_FUNDS"
    assert declined.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert retries.seen == []


async def test_a_lost_answer_is_retried_with_the_same_key_and_acts_once(
    proxy: FaultyProxy, app: PaymentApplication, engine: AsyncEngine, simulator: SimulatorGateway
) -> None:
    retries = Retries()
    async with client(proxy.target, retries) as payments:
        created = await payments.create_payment(payment_request(authorize=True))
        pid = created.payment.payment_id
        proxy.cut_next_answer()  # the capture is done, its answer never arrives
        captured = await payments.capture_payment(pb.CapturePaymentRequest(payment_id=pid))
    assert proxy.cuts == 1
    # The retry may find the first attempt still finishing on the server: IN_USE, retried.
    first, *others = retries.errors
    assert isinstance(first, Unavailable)
    assert all(error.reason == "IDEMPOTENCY_KEY_IN_USE" for error in others)
    assert {error.request_id for error in retries.errors} == {first.request_id}
    assert captured.payment.status == payment_pb2.PAYMENT_STATUS_CAPTURED
    operations = [op for op, _, _ in await gateway_effects(engine, simulator, pid)]
    assert operations == ["authorize", "capture"]  # captured once, not twice


async def test_a_read_is_retried_after_refused_connections(proxy: FaultyProxy) -> None:
    proxy.set_mode(Mode.RESET)
    retries = Retries(on_first=lambda: proxy.set_mode(Mode.PASS))
    async with client(proxy.target, retries) as payments:
        with pytest.raises(NotFound):  # it reached the server in the end
            await payments.get_payment_status(pb.GetPaymentStatusRequest(payment_id=new_id()))
    assert retries.errors and isinstance(retries.errors[0], Unavailable)
    assert proxy.accepted >= 2


async def test_a_keyed_call_is_retried_after_its_deadline_and_acts_once(
    proxy: FaultyProxy, engine: AsyncEngine, simulator: SimulatorGateway
) -> None:
    retries = Retries(on_first=lambda: proxy.set_mode(Mode.PASS))
    async with client(proxy.target, retries) as payments:
        created = await payments.create_payment(payment_request(authorize=True))
        pid = created.payment.payment_id
        await payments.capture_payment(pb.CapturePaymentRequest(payment_id=pid))
        proxy.hold_answers()  # the refund is done, its answer comes too late
        refunded = await payments.refund_payment(
            pb.RefundPaymentRequest(payment_id=pid), timeout=1.0
        )
    assert isinstance(retries.errors[0], DeadlineExceeded)
    keys = {error.request_id for error in retries.errors}
    assert len(keys) == 1 and "" not in keys  # one key for every attempt
    assert refunded.refund.amount_minor == created.payment.amount_minor
    operations = [op for op, _, _ in await gateway_effects(engine, simulator, pid)]
    assert operations.count("refund") == 1  # refunded once, not twice


class HeldSimulator(SimulatorGateway):
    """A simulator whose authorizations wait until the test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def authorize(self, request: Any) -> Any:
        await self.gate.wait()
        return await super().authorize(request)


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
    request = payment_request(request_id=new_id(), authorize=True)
    async with open_channel(f"127.0.0.1:{held_app.grpc_port}") as channel:
        first = asyncio.ensure_future(
            channel.unary_unary(
                "/payments.v1.PaymentService/CreatePayment",
                request_serializer=pb.CreatePaymentRequest.SerializeToString,
                response_deserializer=pb.CreatePaymentResponse.FromString,
            )(request)
        )

        async def first_holds_the_key() -> bool:
            query = select(idempotency_keys.c.state).where(
                idempotency_keys.c.key == request.request_id
            )
            async with engine.connect() as conn:
                return await conn.scalar(query) == "IN_PROGRESS"

        await eventually(first_holds_the_key)
        retries = Retries(on_first=gateway.gate.set)  # the first call finishes meanwhile
        async with client(f"127.0.0.1:{held_app.grpc_port}", retries) as payments:
            second = await payments.create_payment(request)
        assert second == await first
    assert isinstance(retries.errors[0], Conflict)
    assert retries.errors[0].reason == "IDEMPOTENCY_KEY_IN_USE"
    assert second.payment.status == payment_pb2.PAYMENT_STATUS_AUTHORIZED


async def test_a_rate_limited_call_waits_the_servers_delay(
    database_url: str, redis_url: str, redis_key_prefix: str
) -> None:
    # One call in the bucket, refilled every 2 s: the second call is limited.
    limits = {"rate_limit_enabled": True, "rate_limit_requests_per_second": 0.5}
    async with guarded_app(
        database_url, redis_url, redis_key_prefix, rate_limit_burst=1, **limits
    ) as guarded:
        retries = Retries()
        async with client(f"127.0.0.1:{guarded.app.grpc_port}", retries) as payments:
            for _ in range(2):
                with pytest.raises(NotFound):
                    await payments.get_payment_status(
                        pb.GetPaymentStatusRequest(payment_id=new_id())
                    )
    [(_, _, limited, delay)] = retries.seen
    assert isinstance(limited, RateLimited)
    assert limited.retry_delay_seconds is not None and limited.retry_delay_seconds > 0
    assert delay >= limited.retry_delay_seconds


async def test_the_sync_client_is_the_same_client_blocking(app: PaymentApplication) -> None:
    def checkout() -> tuple[pb.GetPaymentResponse, PaymentsError]:
        target = f"127.0.0.1:{app.grpc_port}"
        with SyncPaymentsClient(target, token=admin_token, settings=QUICK) as payments:
            created = payments.create_payment(payment_request(authorize=True))
            pid = created.payment.payment_id
            payments.capture_payment(pb.CapturePaymentRequest(payment_id=pid))
            try:
                payments.get_refund(pb.GetRefundRequest(refund_id=new_id()))
            except PaymentsError as error:
                return payments.get_payment(pb.GetPaymentRequest(payment_id=pid)), error
        raise AssertionError("GetRefund of an unknown refund succeeded")

    got, error = await asyncio.to_thread(checkout)  # the server runs on this event loop
    assert got.payment.status == payment_pb2.PAYMENT_STATUS_CAPTURED
    assert isinstance(error, NotFound) and error.reason == "REFUND_NOT_FOUND"


async def test_from_env_reads_the_target_and_the_token(app: PaymentApplication) -> None:
    env = {"PAYMENTS_GRPC_TARGET": f"http://127.0.0.1:{app.grpc_port}"}
    async with PaymentsClient.from_env(env | {"PAYMENTS_TOKEN": admin_token()}) as payments:
        with pytest.raises(NotFound):
            await payments.get_payment(pb.GetPaymentRequest(payment_id=new_id()))
    async with PaymentsClient.from_env(env) as anonymous:
        with pytest.raises(PaymentsError) as refused:
            await anonymous.get_payment(pb.GetPaymentRequest(payment_id=new_id()))
    assert refused.value.code is grpc.StatusCode.UNAUTHENTICATED
    assert admin_token() not in repr(payments) + str(refused.value)
