"""The real `payment-service` process: grpcurl by reflection, restarts, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from tests.e2e.helpers import create_request
from tests.support.auth import admin_token, auth_env
from tests.support.channels import open_channel
from tests.support.encryption import encryption_env
from tests.support.polling import eventually
from tests.support.server_process import PAYMENT_SERVICE, ServerProcess

pytestmark = pytest.mark.slow
GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or "grpcurl"


@pytest.fixture
async def server(
    database_url: str, redis_url: str, redis_key_prefix: str
) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(
        database_url,
        SIMULATOR_LATENCY_MS="300",
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=redis_key_prefix,
    )
    await process.start()
    yield process
    print(process.output()[-6000:])  # shown when the test failed
    process.close()


def grpcurl(target: str, method: str, body: dict[str, object] | None = None) -> dict[str, object]:
    args = [GRPCURL, "-plaintext", "-H", f"authorization: Bearer {admin_token()}"]
    if body is not None:
        args += ["-d", json.dumps(body)]
    result = subprocess.run([*args, target, method], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GrpcurlError(result.returncode, result.stdout + result.stderr)
    return json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}


class GrpcurlError(Exception):
    def __init__(self, exit_code: int, output: str) -> None:
        super().__init__(output)
        self.exit_code, self.output = exit_code, output


def test_grpcurl_lists_the_services_by_reflection(server: ServerProcess) -> None:
    result = subprocess.run(
        [GRPCURL, "-plaintext", server.target, "list"], capture_output=True, text=True, check=True
    )
    services = set(result.stdout.split())
    assert {"payments.v1.PaymentService", "payments.v1.PaymentMethodService",
            "grpc.health.v1.Health"} <= services  # fmt: skip


def test_grpcurl_walkthrough_and_restart(server: ServerProcess) -> None:
    request = create_request()
    created = grpcurl(
        server.target,
        "payments.v1.PaymentService/CreatePayment",
        {
            "order_id": request.order_id,
            "user_id": request.user_id,
            "amount_minor": 1099,
            "currency": "EUR",
            "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
            "payment_method_token": "pm_card_visa",
            "request_id": request.request_id,
        },
    )
    pid = created["payment"]["payment_id"]  # type: ignore[index]
    service = "payments.v1.PaymentService"
    grpcurl(server.target, f"{service}/AuthorizePayment", {"payment_id": pid})
    grpcurl(server.target, f"{service}/CapturePayment", {"payment_id": pid, "amount_minor": 500})
    grpcurl(server.target, f"{service}/RefundPayment", {"payment_id": pid, "amount_minor": 200})
    payment = grpcurl(server.target, f"{service}/GetPayment", {"payment_id": pid})["payment"]
    assert payment["status"] == "PAYMENT_STATUS_PARTIALLY_REFUNDED"  # type: ignore[index]
    assert payment["captured_amount_minor"] == "500"  # type: ignore[index]
    assert payment["refunded_amount_minor"] == "200"  # type: ignore[index]

    with pytest.raises(GrpcurlError) as bad:
        grpcurl(server.target, f"{service}/CreatePayment", {"currency": "EURO"})
    assert bad.value.exit_code == 64 + grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert '"field": "currency"' in bad.value.output or '"field":"currency"' in bad.value.output

    # Payments survive a restart.
    asyncio.run(_restart(server))
    again = grpcurl(server.target, f"{service}/GetPayment", {"payment_id": pid})["payment"]
    assert again == payment


async def _restart(server: ServerProcess) -> None:
    assert await server.terminate() == 0
    await server.start()


async def test_sigterm_drains_in_flight_calls(server: ServerProcess) -> None:
    """A capture that is mid-way through the (300 ms) gateway call when SIGTERM arrives
    completes, and the process then exits cleanly."""
    async with open_channel(server.target) as channel:
        stub = PaymentServiceStub(channel)
        created = await stub.CreatePayment(create_request())
        pid = created.payment.payment_id
        await stub.AuthorizePayment(pb.AuthorizePaymentRequest(payment_id=pid))
        capture = asyncio.ensure_future(
            stub.CapturePayment(pb.CapturePaymentRequest(payment_id=pid))
        )

        async def capture_in_flight() -> bool:
            # The capture intent is committed before the gateway is called.
            got = await stub.GetPayment(pb.GetPaymentRequest(payment_id=pid))
            return len(got.payment.transactions) == 2

        await eventually(capture_in_flight)
        exit_code = await server.terminate()
        response = await capture
    assert response.payment.captured_amount_minor == 1099
    assert exit_code == 0


async def test_serve_without_database_settings_uses_embedded_postgres(tmp_path: Path) -> None:
    unset = ("DATABASE_URL", "DB_HOST", "REDIS_URL", "REDIS_HOST")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    process = ServerProcess("", "--migrate")
    process.env = env | {
        "GRPC_PORT": str(process.port),
        "GRPC_HOST": "127.0.0.1",
        "EMBEDDED_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "warning",
    }
    try:
        await process.start(within=60)
        # No JWKS configured: the development key made in the data directory signs the
        # token of the banner and those of mint-token. The banner comes once everything
        # started, which may be a moment after the gRPC server first answers.

        async def banner_printed() -> bool:
            return "export TOKEN=" in process.output()

        await eventually(banner_printed, within=60)
        banner_token = _exported_token(process.output())
        user = str(uuid.uuid4())
        minted = _mint_token(process.env, "--sub", user, "--scopes", "payments:write")
        async with open_channel(process.target, token=banner_token) as channel:
            redis = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="redis")
            )
        async with open_channel(process.target, token=minted) as channel:
            created = await PaymentServiceStub(channel).CreatePayment(create_request(user_id=user))
        assert (tmp_path / "data" / "auth" / "dev-signing-key.pem").exists()
        assert created.payment.status
        assert redis.status == health_pb2.HealthCheckResponse.SERVING  # embedded Redis too
        assert await process.terminate() == 0
        assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
        assert (tmp_path / "data" / "redis" / "redis.db").exists()  # saved at a clean exit
    finally:
        process.close()


def _exported_token(banner: str) -> str:
    for line in banner.splitlines():
        if line.strip().startswith("export TOKEN="):
            return line.strip().removeprefix("export TOKEN=")
    raise AssertionError(f"no development token in the banner: {banner[-2000:]}")


def _mint_token(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PAYMENT_SERVICE, "mint-token", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.strip()


def test_invalid_configuration_is_refused_with_the_setting_named() -> None:
    result = subprocess.run(
        [PAYMENT_SERVICE, "check-config"],
        env=os.environ | {"GRPC_PORT": "99999", "LOG_LEVEL": "loud"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "GRPC_PORT" in result.stderr and "LOG_LEVEL" in result.stderr


def test_production_without_a_database_refuses_to_start() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_HOST")}
    result = subprocess.run(
        [PAYMENT_SERVICE, "serve"],
        env=env | auth_env() | encryption_env() | {"APP_ENV": "production"},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 2
    assert "DATABASE_URL or DB_HOST is required" in result.stderr
