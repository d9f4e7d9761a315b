"""The Python client over TLS and mutual TLS to a real server, configured from the
environment as a deployment would (PAYMENTS_TLS_CA, PAYMENTS_TLS_CERT, PAYMENTS_TLS_KEY)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_service_pb2 as pb
from payments_client import PaymentsClient, SyncPaymentsClient, Unavailable
from server.app import PaymentApplication
from tests.e2e.helpers import create_request, new_id
from tests.support.auth import admin_token
from tests.support.certificates import Pki, make_pki
from tests.support.servers import settings_for_tests


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("client-pki"))


@pytest.fixture(scope="module")
async def mtls_app(database_url: str, pki: Pki) -> AsyncIterator[PaymentApplication]:
    """Mutual TLS: a client certificate signed by the CA is required."""
    app = PaymentApplication(
        settings_for_tests(
            tls_cert_file=pki.server.cert,
            tls_key_file=pki.server.key,
            tls_client_ca_file=pki.ca.cert,
            tls_require_client_cert=True,
        ),
        database_url,
        gateways={GatewayName.SIMULATOR: SimulatorGateway()},
    )
    await app.start()
    yield app
    await app.stop(grace=1)


def env(app: PaymentApplication, pki: Pki, *, certificate: bool) -> dict[str, str]:
    values = {
        "PAYMENTS_GRPC_TARGET": f"127.0.0.1:{app.grpc_port}",
        "PAYMENTS_TOKEN": admin_token(),
        "PAYMENTS_TLS_CA": str(pki.ca.cert),
        "PAYMENTS_MAX_ATTEMPTS": "2",
    }
    if certificate:
        values |= {
            "PAYMENTS_TLS_CERT": str(pki.client.cert),
            "PAYMENTS_TLS_KEY": str(pki.client.key),
        }
    return values


async def test_mutual_tls_from_the_environment(mtls_app: PaymentApplication, pki: Pki) -> None:
    async with PaymentsClient.from_env(env(mtls_app, pki, certificate=True)) as client:
        created = await client.create_payment(create_request(authorize=True))
    assert created.payment.payment_id

    def sync_read() -> str:
        with SyncPaymentsClient.from_env(env(mtls_app, pki, certificate=True)) as client:
            got = client.get_payment(pb.GetPaymentRequest(payment_id=created.payment.payment_id))
            return got.payment.order_id

    assert await asyncio.to_thread(sync_read) == created.payment.order_id


async def test_without_a_client_certificate_the_server_refuses(
    mtls_app: PaymentApplication, pki: Pki
) -> None:
    async with PaymentsClient.from_env(env(mtls_app, pki, certificate=False)) as client:
        with pytest.raises(Unavailable):
            await client.get_payment(pb.GetPaymentRequest(payment_id=new_id()), timeout=5)
