"""The OpenAPI document states what the server checks: a request a generator draws from it
(schemathesis' positive cases) passes the contract's buf.validate rules, and the document
says what the rules say (formats, patterns, ranges, lengths, required fields)."""

from __future__ import annotations

from typing import Any

import protovalidate
import pytest
import schemathesis
from google.protobuf import json_format
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, Phase, given, settings

from server.rest.openapi import openapi_document
from server.rest.openapi_rules import description
from server.rest.routes import Route, build_routes, contract_services

ROUTES = [r for r in build_routes(contract_services()) if "/webhooks/" not in r.path]
DOCUMENT = openapi_document(ROUTES, "payment-service", "v1")
EXAMPLES = 10


def _request(route: Route, case: Any) -> Any:
    """The proto request the shim would build from the case (proto3 JSON mapping)."""
    fields: dict[str, Any] = {}
    if isinstance(case.body, dict):
        fields.update(case.body)
    fields.update(case.query or {})
    fields.update(case.path_parameters or {})
    message = GetMessageClass(route.request_type)()
    json_format.ParseDict(fields, message)
    return message


def _field_violations(message: Any) -> list[str]:
    """Violations of field rules; a rule across fields (a message `cel` rule: distinct
    currencies, id or token) has no JSON Schema form and no field path."""
    found = protovalidate.Validator().collect_violations(message)
    return [
        f"{v.proto.field.elements[0].field_name}: {v.proto.rule_id}"
        for v in found
        if v.proto.field is not None
    ]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.method.name)
def test_what_the_document_allows_the_rules_accept(route: Route) -> None:
    operation = schemathesis.openapi.from_dict(DOCUMENT)[route.path][route.http_method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        assert _field_violations(_request(route, case)) == []

    check()


def _body(path: str, method: str = "post") -> dict[str, Any]:
    operation = DOCUMENT["paths"][path][method]
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


def test_the_document_states_the_rules() -> None:
    create = _body("/api/v1/payments")
    props = create["properties"]
    assert {"order_id", "user_id", "amount_minor", "currency"} <= set(create["required"])
    assert props["order_id"]["format"] == "uuid"
    assert props["currency"]["pattern"] == "^[A-Z]{3}$"
    assert props["amount_minor"]["pattern"] == "^[1-9][0-9]{0,14}$"  # 1 ... 999999999999999
    assert props["description"]["maxLength"] == 500
    assert props["metadata"]["maxProperties"] == 50
    assert props["metadata"]["propertyNames"]["maxLength"] == 40
    said = description("payments.v1.CreatePaymentRequest.order_id")
    assert said and props["order_id"]["description"] == said  # the proto comment
    listing = DOCUMENT["paths"]["/api/v1/payments"]["get"]
    page_size = next(p for p in listing["parameters"] if p["name"] == "page_size")
    assert (page_size["schema"]["minimum"], page_size["schema"]["maximum"]) == (0, 500)
    capture = DOCUMENT["paths"]["/api/v1/payments/{payment_id}/capture"]["post"]
    payment_id = next(p for p in capture["parameters"] if p["name"] == "payment_id")
    assert payment_id["schema"]["format"] == "uuid"
    review = _body("/api/v1/payments/{payment_id}/review")["properties"]["decision"]
    assert "REVIEW_DECISION_UNSPECIFIED" not in review["enum"]  # required: not the zero value
