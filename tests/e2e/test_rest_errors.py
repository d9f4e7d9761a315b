"""The REST shim's HTTP behaviour: Idempotency-Key, AIP-193 errors, routing and body errors,
and the operational endpoints."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from server.app import PaymentApplication
from tests.e2e.helpers import new_id
from tests.support.servers import settings_for_tests

PAYMENTS = "/api/v1/payments"


def payment_body(**overrides: Any) -> dict[str, Any]:
    return {
        "order_id": new_id(),
        "user_id": new_id(),
        "amount_minor": 1099,
        "currency": "EUR",
        "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
        "payment_method_token": "pm_card_visa",
    } | overrides


def assert_error(response: httpx.Response, code: int, status: str) -> dict[str, Any]:
    assert response.status_code == code, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert error["message"]
    assert isinstance(error["details"], list)
    return dict(error)


def reason_of(error: dict[str, Any]) -> str:
    infos = [d for d in error["details"] if d["@type"].endswith("/google.rpc.ErrorInfo")]
    assert len(infos) == 1
    assert infos[0]["domain"] == "payments.example.com"
    return str(infos[0]["reason"])


async def test_an_idempotency_key_replays_the_first_answer(rest_client: httpx.AsyncClient) -> None:
    key, body = new_id(), payment_body(authorize=True)
    first = await rest_client.post(PAYMENTS, json=body, headers={"Idempotency-Key": key})
    again = await rest_client.post(PAYMENTS, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    pid = first.json()["payment"]["payment_id"]
    capture = f"{PAYMENTS}/{pid}/capture"
    captured = await rest_client.post(capture, json={}, headers={"Idempotency-Key": key})
    replayed = await rest_client.post(capture, json={}, headers={"Idempotency-Key": key})
    assert replayed.json() == captured.json()
    assert captured.json()["payment"]["status"] == "PAYMENT_STATUS_CAPTURED"
    reused = await rest_client.post(
        PAYMENTS, json=payment_body(), headers={"Idempotency-Key": key}
    )  # the same key with another request
    assert reason_of(assert_error(reused, 400, "INVALID_ARGUMENT")) == "IDEMPOTENCY_KEY_REUSED"


async def test_a_request_id_in_the_body_wins_over_the_header(
    rest_client: httpx.AsyncClient,
) -> None:
    body = payment_body(request_id=new_id())
    first = await rest_client.post(PAYMENTS, json=body, headers={"Idempotency-Key": new_id()})
    again = await rest_client.post(PAYMENTS, json=body, headers={"Idempotency-Key": new_id()})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


async def test_invalid_input_is_400_with_field_violations(rest_client: httpx.AsyncClient) -> None:
    response = await rest_client.post(PAYMENTS, json=payment_body(amount_minor=0, currency="eu"))
    error = assert_error(response, 400, "INVALID_ARGUMENT")
    assert reason_of(error) == "VALIDATION_FAILED"
    bad_request = next(d for d in error["details"] if d["@type"].endswith("BadRequest"))
    fields = {v["field"] for v in bad_request["field_violations"]}
    assert {"amount_minor", "currency"} <= fields


async def test_a_state_error_carries_its_reason(rest_client: httpx.AsyncClient) -> None:
    created = await rest_client.post(PAYMENTS, json=payment_body())
    pid = created.json()["payment"]["payment_id"]
    response = await rest_client.post(f"{PAYMENTS}/{pid}/refund", json={})
    error = assert_error(response, 400, "FAILED_PRECONDITION")
    assert reason_of(error) == "INVALID_STATE_TRANSITION"
    missing = await rest_client.get(f"{PAYMENTS}/{new_id()}")
    assert reason_of(assert_error(missing, 404, "NOT_FOUND")) == "PAYMENT_NOT_FOUND"


async def test_routing_errors(rest_client: httpx.AsyncClient) -> None:
    assert_error(await rest_client.get("/api/v1/nothing-here"), 404, "NOT_FOUND")
    wrong = await rest_client.put(PAYMENTS, json={})
    assert_error(wrong, 405, "UNIMPLEMENTED")
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}  # ListPayments
    listing = await rest_client.patch("/api/v1/payment-methods")
    assert set(listing.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}


async def test_malformed_bodies_are_400(rest_client: httpx.AsyncClient) -> None:
    headers = {"content-type": "application/json"}
    broken = await rest_client.post(PAYMENTS, content=b'{"order_id": ', headers=headers)
    assert "malformed JSON" in assert_error(broken, 400, "INVALID_ARGUMENT")["message"]
    not_object = await rest_client.post(PAYMENTS, content=b"[1, 2]", headers=headers)
    assert_error(not_object, 400, "INVALID_ARGUMENT")
    unknown = await rest_client.post(PAYMENTS, json=payment_body(colour="blue"))
    assert "colour" in assert_error(unknown, 400, "INVALID_ARGUMENT")["message"]
    wrong_type = await rest_client.post(PAYMENTS, json=payment_body(amount_minor="ten"))
    assert "amount_minor" in assert_error(wrong_type, 400, "INVALID_ARGUMENT")["message"]
    not_utf8 = await rest_client.post(PAYMENTS, content=b"\xff\xfe{", headers=headers)
    assert_error(not_utf8, 400, "INVALID_ARGUMENT")
    deep = await rest_client.post(PAYMENTS, content=b"[" * 100_000, headers=headers)
    assert_error(deep, 400, "INVALID_ARGUMENT")
    nested = b'{"metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001
    assert_error(
        await rest_client.post(PAYMENTS, content=nested, headers=headers), 400, "INVALID_ARGUMENT"
    )


async def test_query_parameters(rest_client: httpx.AsyncClient) -> None:
    refunds = f"{PAYMENTS}/{new_id()}/refunds"
    unknown = await rest_client.get(refunds, params={"sort": "asc"})
    assert "'sort'" in assert_error(unknown, 400, "INVALID_ARGUMENT")["message"]
    bad_number = await rest_client.get(refunds, params={"page_size": "many"})
    assert_error(bad_number, 400, "INVALID_ARGUMENT")
    user = new_id()
    listed = await rest_client.get(
        "/api/v1/payment-methods", params={"user_id": user, "pageSize": "5"}
    )
    assert listed.status_code == 200
    assert listed.json() == {}  # no methods: every field at its default is left out


async def test_a_body_over_one_mebibyte_is_413(rest_client: httpx.AsyncClient) -> None:
    too_big = payment_body(description="x" * (1024 * 1024))
    assert_error(await rest_client.post(PAYMENTS, json=too_big), 413, "RESOURCE_EXHAUSTED")

    async def chunks() -> Any:  # no Content-Length: counted while read
        for _ in range(17):
            yield b" " * 65536

    streamed = await rest_client.post(PAYMENTS, content=chunks())
    assert_error(streamed, 413, "RESOURCE_EXHAUSTED")


async def test_request_ids_travel_both_ways(rest_client: httpx.AsyncClient) -> None:
    given = await rest_client.get(f"{PAYMENTS}/{new_id()}", headers={"X-Request-Id": "rest-42"})
    assert given.headers["x-request-id"] == "rest-42"
    made = await rest_client.get(f"{PAYMENTS}/{new_id()}")
    assert len(made.headers["x-request-id"]) == 36  # a fresh UUID


async def test_health_follows_the_grpc_health_state(rest_client: httpx.AsyncClient) -> None:
    response = await rest_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "SERVING"}


async def test_metrics_in_prometheus_text_format(
    app: PaymentApplication, rest_client: httpx.AsyncClient
) -> None:
    created = await rest_client.post(PAYMENTS, json=payment_body(authorize=True))
    assert created.status_code == 200
    await rest_client.get("/api/v1/nothing-here")
    response = await rest_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for series in (
        'payments_rest_requests_total{method="POST",route="/api/v1/payments",status="200"}',
        'payments_rest_requests_total{method="GET",route="unmatched",status="404"}',
        'payments_rest_request_duration_seconds_bucket{le="0.005",method="POST",route="/api/v1/payments"}',
        'payments_grpc_requests_total{code="OK",method="/payments.v1.PaymentService/CreatePayment"}',
        'payments_grpc_request_duration_seconds_count{method="/payments.v1.PaymentService/CreatePayment"}',
        'payments_by_status{status="AUTHORIZED"}',
        'payments_gateway_call_duration_seconds_count{gateway="SIMULATOR",operation="authorize",outcome="succeeded"}',
    ):
        assert series in text, series
    # The registry is the application's own, not the process-global one.
    assert REGISTRY.get_sample_value("payments_grpc_requests_total") is None
    assert app.metrics.registry is not REGISTRY


async def test_health_is_503_once_the_server_stops_serving(database_url: str) -> None:
    application = PaymentApplication(settings_for_tests(), database_url)
    await application.start()
    try:
        url = f"http://127.0.0.1:{application.rest_port}/health"
        async with httpx.AsyncClient() as client:
            assert (await client.get(url)).status_code == 200
            await application.health.enter_graceful_shutdown()
            response = await client.get(url)
        assert response.status_code == 503
        assert response.json() == {"status": "NOT_SERVING"}
    finally:
        await application.stop(grace=1)


async def test_a_rest_port_in_use_fails_start_and_releases_the_grpc_port(
    database_url: str,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        application = PaymentApplication(
            settings_for_tests(app_port=taken.getsockname()[1]), database_url
        )
        with pytest.raises((OSError, SystemExit)):
            await application.start()
    assert application.grpc_port  # the gRPC server had started ...
    with socket.socket() as again:  # ... and was stopped: its port is free again
        again.bind(("127.0.0.1", application.grpc_port))
