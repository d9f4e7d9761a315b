"""The transport-independent retry loop both Python clients run (payments_client.retrying),
driven by plain functions standing for a transport's attempts."""

from __future__ import annotations

import grpc
import pytest

from payments_client import CallSettings, PaymentsError, RetryPolicy
from payments_client.errors import Unavailable, error_class
from payments_client.retrying import Attempts, run_async, run_blocking

NO_WAIT = CallSettings(retry=RetryPolicy(max_attempts=4, random=lambda: 0.0))


class Down(Exception):
    """What a transport raises for a call that did not answer."""


def classify(failed: Exception) -> PaymentsError | None:
    if isinstance(failed, Down):
        code = grpc.StatusCode.UNAVAILABLE
        return error_class(code, "")(code=code, message="down")
    return None


def plan(method: str, *, keyed: bool, read: bool = False, key: str | None = None) -> Attempts:
    return Attempts.plan(
        method,
        read=read,
        keyed=keyed,
        settings=NO_WAIT,
        timeout=None,
        request_id=key,
        request_key="",
        on_retry=None,
    )


async def test_a_keyed_call_is_retried_with_its_one_key_until_it_answers() -> None:
    attempts = plan("CapturePayment", keyed=True)
    keys: list[str] = []

    async def attempt() -> str:
        keys.append(attempts.request_id)
        if len(keys) < 3:
            raise Down
        return "captured"

    assert await run_async(attempts, attempt, classify) == "captured"
    assert attempts.attempt == 3
    assert len(set(keys)) == 1 and keys[0]  # made once, sent on every attempt
    assert attempts.timeout == NO_WAIT.write_deadline


def test_the_blocking_loop_keeps_the_callers_key_and_stops_at_the_limit() -> None:
    attempts = plan("RefundPayment", keyed=True, key="order-7-refund")

    def attempt() -> str:
        raise Down

    with pytest.raises(Unavailable) as failed:
        run_blocking(attempts, attempt, classify)
    assert attempts.attempt == NO_WAIT.retry.max_attempts
    assert failed.value.request_id == "order-7-refund"
    assert isinstance(failed.value.__cause__, Down)  # chained to what the transport raised


async def test_a_keyless_write_is_tried_once_and_other_exceptions_pass_through() -> None:
    keyless = Attempts("SomeWrite", False, "", 1.0, NO_WAIT, None)
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise Down

    with pytest.raises(Unavailable):
        await run_async(keyless, down, classify)
    assert calls == 1  # another attempt could act twice

    async def bug() -> None:
        raise KeyError("not a failed call")

    with pytest.raises(KeyError):
        await run_async(plan("GetPayment", keyed=False, read=True), bug, classify)
