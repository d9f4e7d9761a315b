"""The TypeScript client (clients/typescript) against a real server: its `npm test` runs the
live tests (a checkout, typed errors with field violations, a lost answer retried with its
key acting once, key reuse) with PAYMENTS_GRPC_TARGET and PAYMENTS_TOKEN set, besides its
unit tests and its retry tests on a scripted server of its own; and the client over mutual
TLS, configured from the environment."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from server.app import PaymentApplication
from tests.support import node
from tests.support.auth import admin_token
from tests.support.certificates import Pki, make_pki
from tests.support.node import CLIENT, run, server_env
from tests.support.servers import settings_for_tests


async def test_the_typescript_clients_npm_test_passes_against_a_live_server(
    app: PaymentApplication,
) -> None:
    finished = await run("npm", "test", cwd=CLIENT, env=server_env(app.grpc_port, admin_token()))
    assert finished.returncode == 0, finished.report()
    summary = dict(re.findall(r"^# (tests|pass|fail|skipped|cancelled) (\d+)$", finished.out, re.M))
    # The live tests ran (nothing skipped for want of a target) and every test passed.
    assert summary.get("skipped") == "0", finished.report()
    assert summary.get("fail") == "0", finished.report()
    assert int(summary.get("pass", "0")) >= 20, finished.report()
    assert "a keyed call whose answer is lost is retried with its key and acts once" in finished.out


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("typescript-pki"))


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


async def test_the_typescript_client_over_mutual_tls_from_the_environment(
    mtls_app: PaymentApplication, pki: Pki
) -> None:
    """The example's PaymentsClient.fromEnv() takes PAYMENTS_TLS_CA, _CERT and _KEY; without a
    client certificate the server refuses it."""
    await node.build(node.CLIENT)
    await node.build(node.EXAMPLE)
    env = node.server_env(mtls_app.grpc_port, admin_token()) | {
        "PAYMENTS_TLS_CA": str(pki.ca.cert),
        "PAYMENTS_MAX_ATTEMPTS": "2",
    }
    with_certificate = env | {
        "PAYMENTS_TLS_CERT": str(pki.client.cert),
        "PAYMENTS_TLS_KEY": str(pki.client.key),
    }
    paid = await node.run("node", "dist/checkout.js", cwd=node.EXAMPLE, env=with_certificate)
    assert paid.returncode == 0, paid.report()
    assert "status=PAYMENT_STATUS_CAPTURED" in paid.out.splitlines()
    refused = await node.run("node", "dist/checkout.js", cwd=node.EXAMPLE, env=env)
    assert refused.returncode == 1, refused.report()
    # With TLS 1.3 the client's side of the handshake ends before the server checks for a
    # certificate: the refusal arrives as a reset stream (CANCELED) or a failed connection.
    assert refused.err.startswith(("failed: UNAVAILABLE", "failed: CANCELED")), refused.report()
    assert "payment_id=" not in refused.out
