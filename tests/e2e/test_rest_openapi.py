"""The OpenAPI 3.1 document at /openapi.json: generated from the same descriptors as the
routes, and honoured by the running shim (schemathesis: no 5xx, answers match the schema)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from server.app import PaymentApplication
from tests.support.channels import rest_headers

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
async def document(rest_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await rest_client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if "$ref" in value else []
        return own + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_the_document_is_structurally_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    schemas = document["components"]["schemas"]
    for ref in _refs(document):  # every reference resolves
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas
    operation_ids = []
    assert {"/health", "/metrics", "/openapi.json"} <= set(document["paths"])
    contract = {p: i for p, i in document["paths"].items() if p.startswith("/api/v1/")}
    for path, item in contract.items():
        for method, operation in item.items():
            assert method in HTTP_METHODS
            operation_ids.append(operation["operationId"])
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == {s.strip("{}") for s in path.split("/") if s.startswith("{")}
            assert "200" in operation["responses"]
            assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
    assert len(operation_ids) == len(set(operation_ids)) == 28  # every RPC, webhooks too


def test_schemas_follow_the_proto3_json_mapping(document: dict[str, Any]) -> None:
    payment = document["components"]["schemas"]["payments.v1.Payment"]["properties"]
    assert payment["amount_minor"]["type"] == "string"  # int64
    assert payment["created_at"] == {"type": "string", "format": "date-time"}
    assert "PAYMENT_STATUS_CAPTURED" in payment["status"]["enum"]
    assert payment["metadata"]["type"] == "object"
    assert payment["transactions"]["type"] == "array"
    create = document["paths"]["/api/v1/payments"]["post"]
    headers = [p["name"] for p in create["parameters"] if p["in"] == "header"]
    assert headers == ["Idempotency-Key"]
    listing = document["paths"]["/api/v1/payments/{payment_id}/refunds"]["get"]
    assert {p["name"] for p in listing["parameters"] if p["in"] == "query"} == {
        "page_size",
        "page_token",
    }
    capture = document["paths"]["/api/v1/payments/{payment_id}/capture"]["post"]
    body = capture["requestBody"]["content"]["application/json"]["schema"]
    assert "payment_id" not in body["properties"]  # bound by the path


def _fuzz(document: dict[str, Any], base_url: str) -> list[str]:
    """Runs in a thread: schemathesis calls synchronously, and the server shares our loop."""
    schema = schemathesis.openapi.from_dict(document).exclude(path_regex="^/api/v1/webhooks/")
    checked: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(
                base_url=base_url,
                headers=rest_headers(),
                checks=[not_a_server_error, response_schema_conformance],
            )

        run()
        checked.append(operation.label)
    return checked


def _rest_requests(app: PaymentApplication) -> float:
    return sum(
        sample.value
        for metric in app.metrics.registry.collect()
        if metric.name == "payments_rest_requests"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


@pytest.mark.slow
async def test_schemathesis_finds_no_server_errors_and_no_schema_violations(
    app: PaymentApplication, document: dict[str, Any]
) -> None:
    before = _rest_requests(app)
    checked = await asyncio.to_thread(_fuzz, document, f"http://127.0.0.1:{app.rest_port}")
    assert len(checked) == 29  # 26 contract operations (not webhooks) + health, metrics, openapi
    assert _rest_requests(app) - before >= 2 * len(checked)  # it did call the server
    assert "POST /api/v1/payments/{payment_id}/capture" in checked


def test_each_route_states_the_errors_it_can_answer(document: dict[str, Any]) -> None:
    paths = document["paths"]
    create = paths["/api/v1/payments"]["post"]["responses"]
    get = paths["/api/v1/payments/{payment_id}"]["get"]["responses"]
    [webhook] = [
        op["responses"]
        for path, ops in paths.items()
        for op in ops.values()
        if path.startswith("/api/v1/webhooks/stripe")
    ]
    assert {"400", "401", "403", "409", "429", "500", "503", "default"} <= set(create)
    assert "404" not in create  # no resource named in its path
    assert {"401", "403", "404"} <= set(get)
    assert {"400", "503"} <= set(webhook) and not {"401", "403"} & set(webhook)
    errors = [a for code, a in (*create.items(), *get.items()) if code != "200"]
    assert {a["content"]["application/json"]["schema"]["$ref"] for a in errors} == {
        create["default"]["content"]["application/json"]["schema"]["$ref"]
    }
