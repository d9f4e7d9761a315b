"""TLS in transit (PCI DSS 4.2) on both listeners, with certificates made here: the gRPC port
and the REST shim answer TLS clients, prefer TLS 1.3, accept TLS 1.2, refuse TLS 1.0 and 1.1
and plaintext; client certificates are verified, and required when so configured. REST calls
still reach the gRPC server (over its private Unix socket)."""

from __future__ import annotations

import asyncio
import os
import ssl
import stat
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from domain.enums import GatewayName
from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_service_pb2, payment_service_pb2_grpc
from server.app import PaymentApplication
from tests.e2e.helpers import create_request
from tests.support.certificates import Issued, Pki, make_pki
from tests.support.channels import open_channel, open_tls_channel, rest_headers
from tests.support.servers import settings_for_tests

OLD_VERSIONS = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]
ALPN = {"grpc": ["h2"], "rest": ["http/1.1"]}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def _started(database_url: str, **tls: Any) -> PaymentApplication:
    app = PaymentApplication(
        settings_for_tests(**tls),
        database_url,
        gateways={GatewayName.SIMULATOR: SimulatorGateway()},
    )
    await app.start()
    return app


@pytest.fixture(scope="module")
async def tls_app(database_url: str, pki: Pki) -> AsyncIterator[PaymentApplication]:
    """TLS on both ports; client certificates verified when given (REST), not required."""
    app = await _started(
        database_url,
        tls_cert_file=pki.server.cert,
        tls_key_file=pki.server.key,
        tls_client_ca_file=pki.ca.cert,
    )
    yield app
    await app.stop(grace=1)


@pytest.fixture(scope="module")
async def mtls_app(database_url: str, pki: Pki) -> AsyncIterator[PaymentApplication]:
    """Mutual TLS: a client certificate signed by the CA is required on both ports."""
    app = await _started(
        database_url,
        tls_cert_file=pki.server.cert,
        tls_key_file=pki.server.key,
        tls_client_ca_file=pki.ca.cert,
        tls_require_client_cert=True,
        # The client certificate's service may also call without a token.
        mtls_client_scopes="client=payments:read payments:write",
    )
    yield app
    await app.stop(grace=1)


def _client_context(
    pki: Pki,
    *,
    version: ssl.TLSVersion | None = None,
    alpn: list[str] | None = None,
    client: Issued | None = None,
) -> ssl.SSLContext:
    """A client trusting the test CA; pinned to one TLS version when given (with OpenSSL's
    security level lowered, so that this end is willing to speak TLS 1.0 and 1.1)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki.ca.cert)
    if version is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 are, indeed
            context.minimum_version = context.maximum_version = version
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if alpn:
        context.set_alpn_protocols(alpn)
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    return context


async def _handshake(port: int, context: ssl.SSLContext) -> str:
    """The TLS version negotiated with 127.0.0.1:port (raises when refused)."""
    _, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost"), 10
    )
    try:
        return str(writer.get_extra_info("ssl_object").version())
    finally:
        writer.close()


@pytest.fixture(scope="module")
def permissive_port(pki: Pki) -> Iterator[int]:
    """A TLS server that accepts TLS 1.0 and up: proof that the old-version clients below
    really speak TLS 1.0 / 1.1 on this machine (so that a refusal is the service's)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.load_cert_chain(pki.server.cert, pki.server.key)
    loop = asyncio.new_event_loop()

    async def serve() -> asyncio.Server:
        async def drop(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        return await asyncio.start_server(drop, "127.0.0.1", 0, ssl=context)

    server = loop.run_until_complete(serve())
    port = server.sockets[0].getsockname()[1]
    thread = _LoopThread(loop)
    thread.start()
    yield port
    thread.stop(server)


class _LoopThread:
    """Runs the permissive server's loop in a thread (the tests' loop runs the service)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        import threading  # noqa: PLC0415

        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, server: asyncio.Server) -> None:
        async def close() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def _port(app: PaymentApplication, kind: str) -> int:
    return app.grpc_port if kind == "grpc" else app.rest_port


# --- versions --------------------------------------------------------------------------------
@pytest.mark.parametrize("version", OLD_VERSIONS, ids=["TLSv1.0", "TLSv1.1"])
@pytest.mark.parametrize("kind", ["grpc", "rest"])
async def test_tls_1_0_and_1_1_are_refused(
    tls_app: PaymentApplication, pki: Pki, permissive_port: int, kind: str, version: ssl.TLSVersion
) -> None:
    context = _client_context(pki, version=version, alpn=ALPN[kind])
    expected = {ssl.TLSVersion.TLSv1: "TLSv1", ssl.TLSVersion.TLSv1_1: "TLSv1.1"}[version]
    assert await _handshake(permissive_port, context) == expected  # the client can speak it
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await _handshake(_port(tls_app, kind), context)


@pytest.mark.parametrize("kind", ["grpc", "rest"])
async def test_tls_1_3_is_preferred_and_1_2_accepted(
    tls_app: PaymentApplication, pki: Pki, kind: str
) -> None:
    port = _port(tls_app, kind)
    assert await _handshake(port, _client_context(pki, alpn=ALPN[kind])) == "TLSv1.3"
    tls12 = _client_context(pki, version=ssl.TLSVersion.TLSv1_2, alpn=ALPN[kind])
    assert await _handshake(port, tls12) == "TLSv1.2"


# --- gRPC ------------------------------------------------------------------------------------
async def test_grpc_answers_a_tls_client(tls_app: PaymentApplication, pki: Pki) -> None:
    async with open_tls_channel(f"127.0.0.1:{tls_app.grpc_port}", pki.ca.cert_pem) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        created = await stub.CreatePayment(create_request(authorize=True), timeout=10)
        assert created.payment.payment_id


async def test_grpc_refuses_plaintext_and_untrusted_clients(
    tls_app: PaymentApplication, pki: Pki
) -> None:
    target = f"127.0.0.1:{tls_app.grpc_port}"
    async with open_channel(target) as plaintext:
        stub = payment_service_pb2_grpc.PaymentServiceStub(plaintext)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreatePayment(create_request(), timeout=5)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    # A root the server's certificate does not chain to.
    async with open_tls_channel(target, pki.other_ca.cert_pem) as distrusted:
        stub = payment_service_pb2_grpc.PaymentServiceStub(distrusted)
        with pytest.raises(grpc.aio.AioRpcError) as unverified:
            await stub.CreatePayment(create_request(), timeout=5)
        assert unverified.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_grpc_mutual_tls(mtls_app: PaymentApplication, pki: Pki) -> None:
    target, root = f"127.0.0.1:{mtls_app.grpc_port}", pki.ca.cert_pem
    for client in (None, pki.stranger):  # no certificate; one from another CA
        pair = None if client is None else (client.cert_pem, client.key_pem)
        async with open_tls_channel(target, root, pair) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.CreatePayment(create_request(), timeout=5)
            assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    pair = (pki.client.cert_pem, pki.client.key_pem)
    async with open_tls_channel(target, root, pair) as channel:
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        created = await stub.CreatePayment(create_request(), timeout=10)
        assert created.payment.payment_id


async def test_a_listed_client_certificate_authenticates_a_service(
    mtls_app: PaymentApplication, pki: Pki
) -> None:
    """No bearer token: the verified certificate's common name is the caller, with the scopes
    MTLS_CLIENT_SCOPES gives it; a certificate of the same CA that is not listed is no one."""
    target, root = f"127.0.0.1:{mtls_app.grpc_port}", pki.ca.cert_pem
    pair = (pki.client.cert_pem, pki.client.key_pem)
    async with open_tls_channel(target, root, pair, token=None) as channel:
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        created = await stub.CreatePayment(create_request(authorize=True), timeout=10)
        payment_id = created.payment.payment_id
        with pytest.raises(grpc.aio.AioRpcError) as denied:  # refunds:write is not listed
            await stub.RefundPayment(
                payment_service_pb2.RefundPaymentRequest(payment_id=payment_id), timeout=10
            )
        assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
    unlisted = pki.ca.issue("unlisted")
    pair = (unlisted.cert_pem, unlisted.key_pem)
    async with open_tls_channel(target, root, pair, token=None) as channel:
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetPayment(
                payment_service_pb2.GetPaymentRequest(payment_id=payment_id), timeout=10
            )
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


# --- REST ------------------------------------------------------------------------------------
def _rest(app: PaymentApplication, context: ssl.SSLContext) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"https://localhost:{app.rest_port}", verify=context, headers=rest_headers()
    )


async def test_rest_over_tls_reaches_the_grpc_server(tls_app: PaymentApplication, pki: Pki) -> None:
    assert tls_app.loopback_target.startswith("unix:")
    directory = Path(tls_app.loopback_target.removeprefix("unix:")).parent
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700  # only this user may connect
    async with _rest(tls_app, _client_context(pki)) as client:
        health = await client.get("/health")
        assert health.json() == {"status": "SERVING"}
        body = {
            "order_id": create_request().order_id,
            "user_id": create_request().user_id,
            "amount_minor": 1099,
            "currency": "EUR",
            "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
            "payment_method_token": "pm_card_visa",
        }
        created = await client.post("/api/v1/payments", json=body)
        assert created.status_code == 200, created.text
        payment_id = created.json()["payment"]["payment_id"]
        fetched = await client.get(f"/api/v1/payments/{payment_id}")
        assert fetched.json()["payment"]["payment_id"] == payment_id
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{tls_app.rest_port}") as plain:
        with pytest.raises(httpx.TransportError):
            await plain.get("/health")


async def test_rest_verifies_a_client_certificate_when_one_is_given(
    tls_app: PaymentApplication, pki: Pki
) -> None:
    for client in (None, pki.client):  # optional: none, or one the CA signed
        async with _rest(tls_app, _client_context(pki, client=client)) as rest:
            assert (await rest.get("/health")).status_code == 200
    async with _rest(tls_app, _client_context(pki, client=pki.stranger)) as rest:
        with pytest.raises(httpx.TransportError):
            await rest.get("/health")


async def test_rest_mutual_tls(mtls_app: PaymentApplication, pki: Pki) -> None:
    for client in (None, pki.stranger):
        async with _rest(mtls_app, _client_context(pki, client=client)) as rest:
            with pytest.raises(httpx.TransportError):
                await rest.get("/health")
    async with _rest(mtls_app, _client_context(pki, client=pki.client)) as rest:
        health = await rest.get("/health")  # and the shim still reaches the gRPC server
        assert health.json() == {"status": "SERVING"}
