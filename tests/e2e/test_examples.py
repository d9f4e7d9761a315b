"""The examples run against a real server, as a user would run them."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from server.app import PaymentApplication
from tests.support.auth import admin_token

ROOT = Path(__file__).resolve().parents[2]


async def run_checkout(
    app: PaymentApplication, *args: str, example: str = "python"
) -> tuple[int, str, str]:
    env = os.environ | {
        "PAYMENTS_GRPC_TARGET": f"127.0.0.1:{app.grpc_port}",
        "PAYMENTS_TOKEN": admin_token(),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / example / "checkout.py"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_python_checkout_example(
    app: PaymentApplication, payments_stub: PaymentServiceStub
) -> None:
    order_id = str(uuid.uuid4())
    code, out, err = await run_checkout(app, "--order-id", order_id)
    declined, _, reason = await run_checkout(
        app, "--payment-method-token", "pm_card_chargeDeclinedInsufficientFunds"
    )
    assert code == 0, err
    assert (declined, reason.strip()) == (2, "declined: INSUFFICIENT_FUNDS")
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert lines["status"] == "PAYMENT_STATUS_CAPTURED"
    got = await payments_stub.GetPayment(pb.GetPaymentRequest(payment_id=lines["payment_id"]))
    assert got.payment.order_id == order_id
    assert got.payment.captured_amount_minor == 1099
    # Run again for the same order: its keys replay the same answers, nothing is paid twice.
    again, out_again, err_again = await run_checkout(
        app, "--order-id", order_id, "--user-id", got.payment.user_id
    )
    assert (again, out_again) == (0, out), err_again


async def test_the_betterproto_checkout_example(
    app: PaymentApplication, payments_stub: PaymentServiceStub
) -> None:
    order_id = str(uuid.uuid4())
    code, out, err = await run_checkout(app, "--order-id", order_id, example="betterproto")
    declined, _, reason = await run_checkout(
        app, "--payment-method-token", "pm_card_chargeDeclinedInsufficientFunds",
        example="betterproto",
    )  # fmt: skip
    assert code == 0, err
    assert (declined, reason.strip()) == (2, "declined: INSUFFICIENT_FUNDS")
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert lines["status"] == "PAYMENT_STATUS_CAPTURED"
    got = await payments_stub.GetPayment(pb.GetPaymentRequest(payment_id=lines["payment_id"]))
    assert got.payment.order_id == order_id
    assert got.payment.captured_amount_minor == 1099
    # Run again for the same order: its keys replay the same answers, nothing is paid twice.
    again, out_again, err_again = await run_checkout(
        app, "--order-id", order_id, "--user-id", got.payment.user_id, example="betterproto"
    )
    assert (again, out_again) == (0, out), err_again
