"""Routing by method type and currency, failover when a gateway is proven down, and the
circuit breaker - with simulators standing in for Stripe and PayPal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from infra.gateways.simulator_faults import Fault
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, rpc_error
from tests.support.channels import open_channel
from tests.support.servers import settings_for_tests

PAYPAL, CRYPTO = "PAYMENT_METHOD_TYPE_PAYPAL", "PAYMENT_METHOD_TYPE_CRYPTO"
ROUTES = [
    {"method_types": ["PAYPAL"], "gateways": ["PAYPAL"]},
    {"method_types": ["CREDIT_CARD", "DEBIT_CARD"], "currencies": ["EUR", "GBP"],
     "gateways": ["STRIPE", "SIMULATOR"]},
    {"method_types": ["CREDIT_CARD"], "gateways": ["SIMULATOR"]},
]  # fmt: skip


@dataclass
class Routed:
    stub: PaymentServiceStub
    stripe: SimulatorGateway
    paypal: SimulatorGateway
    simulator: SimulatorGateway


@pytest.fixture
async def routed(database_url: str) -> AsyncIterator[Routed]:
    gateways = {name: SimulatorGateway(name=name) for name in GatewayName}
    application = PaymentApplication(
        settings_for_tests(gateway_routes=json.dumps(ROUTES), circuit_failure_threshold=2),
        database_url,
        gateways=dict(gateways),
    )
    await application.start()
    async with open_channel(f"127.0.0.1:{application.grpc_port}") as channel:
        yield Routed(
            PaymentServiceStub(channel),
            gateways[GatewayName.STRIPE],
            gateways[GatewayName.PAYPAL],
            gateways[GatewayName.SIMULATOR],
        )
    await application.stop(grace=1)


async def test_payments_go_where_the_table_says(routed: Routed) -> None:
    eur = await routed.stub.CreatePayment(create_request(currency="EUR"))
    usd = await routed.stub.CreatePayment(create_request(currency="USD"))
    paypal = await routed.stub.CreatePayment(
        create_request(
            payment_method_type="PAYMENT_METHOD_TYPE_PAYPAL", payment_method_token="BA-1"
        )
    )
    assert eur.payment.gateway == payment_pb2.GATEWAY_STRIPE
    assert usd.payment.gateway == payment_pb2.GATEWAY_SIMULATOR
    assert paypal.payment.gateway == payment_pb2.GATEWAY_PAYPAL


async def test_unroutable_payments_are_refused(routed: Routed) -> None:
    error = await rpc_error(
        routed.stub.CreatePayment(
            create_request(
                payment_method_type="PAYMENT_METHOD_TYPE_CRYPTO", payment_method_token="c"
            )
        )
    )
    # No configured gateway takes crypto at all: the refusal names what the deployment takes.
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "PAYMENT_METHOD_UNAVAILABLE",
    )
    assert error.metadata["available_payment_method_types"] == "CREDIT_CARD,DEBIT_CARD,PAYPAL"
    # Debit cards are taken, but in EUR and GBP only.
    debit = await rpc_error(
        routed.stub.CreatePayment(
            create_request(payment_method_type="PAYMENT_METHOD_TYPE_DEBIT_CARD", currency="USD")
        )
    )
    assert (debit.code, debit.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_GATEWAY_AVAILABLE",
    )
    pinned = await rpc_error(
        routed.stub.CreatePayment(create_request(currency="USD", gateway="GATEWAY_STRIPE"))
    )
    assert pinned.reason == "NO_GATEWAY_AVAILABLE"


async def test_a_pinned_eligible_gateway_is_used(routed: Routed) -> None:
    pinned = await routed.stub.CreatePayment(create_request(gateway="GATEWAY_SIMULATOR"))
    assert pinned.payment.gateway == payment_pb2.GATEWAY_SIMULATOR


async def test_authorization_fails_over_when_the_gateway_is_down(routed: Routed) -> None:
    routed.stripe.inject("authorize", Fault.UNAVAILABLE)
    created = await routed.stub.CreatePayment(create_request(authorize=True))
    payment = created.payment
    assert payment.status == payment_pb2.PAYMENT_STATUS_AUTHORIZED
    assert payment.gateway == payment_pb2.GATEWAY_SIMULATOR
    assert payment.gateway_payment_id in routed.simulator.charges
    assert routed.stripe.charges == {}
    assert [t.failure_code for t in payment.transactions] == ["GATEWAY_UNAVAILABLE", ""]
    # Later operations stay with the gateway that holds the authorization.
    captured = await routed.stub.CapturePayment(
        pb.CapturePaymentRequest(payment_id=payment.payment_id)
    )
    assert routed.simulator.charges[captured.payment.gateway_payment_id].status == "captured"


async def test_no_failover_after_an_ambiguous_timeout(routed: Routed) -> None:
    routed.stripe.inject("authorize", Fault.TIMEOUT_AFTER)
    error = await rpc_error(routed.stub.CreatePayment(create_request(authorize=True)))
    assert error.reason == "GATEWAY_OUTCOME_UNKNOWN"
    assert routed.simulator.charges == {}  # never charged twice, on two gateways


async def test_an_open_circuit_skips_the_gateway(routed: Routed) -> None:
    routed.stripe.inject("authorize", Fault.UNAVAILABLE, Fault.UNAVAILABLE)
    for _ in range(2):  # two failures open the circuit (threshold 2)
        await routed.stub.CreatePayment(create_request(authorize=True))
    calls_before = len(routed.stripe.answers)
    third = await routed.stub.CreatePayment(create_request(authorize=True))
    assert third.payment.gateway == payment_pb2.GATEWAY_SIMULATOR
    assert third.payment.transactions[0].failure_code == "GATEWAY_UNAVAILABLE"
    assert "circuit" in third.payment.transactions[0].failure_reason
    assert len(routed.stripe.answers) == calls_before  # Stripe was not called
