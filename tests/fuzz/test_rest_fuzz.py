"""Fuzzing the REST shim from its own OpenAPI document with schemathesis: NUL bytes allowed
in generated text, then the stateful phase chaining operations through the document's links
(a created payment's id into capture, refund, cancel ...). No answer is a 5xx, and every 4xx
is an AIP-193 error with its google.rpc.ErrorInfo reason.

A fixed budget: derandomized, a bounded number of examples per operation and of stateful
scenarios; the webhooks are fuzzed over gRPC (their bodies are signed gateway data)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import initialize
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput

from server.app import PaymentApplication
from tests.support.channels import rest_headers

EXAMPLES_PER_OPERATION = 25
STATEFUL_SCENARIOS = 30
STATEFUL_STEPS = 6
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        stateful_step_count=STATEFUL_STEPS,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def assert_aip193(status: int, body: bytes, label: str) -> None:
    """No 5xx; a 4xx is {"error": {code, status, message, details: [ErrorInfo ...]}}."""
    assert status < 500, f"{label} answered {status}: {body[:500]!r}"
    if status < 400:
        return
    error = json.loads(body)["error"]
    assert error["code"] == status and error["status"] and "message" in error, label
    reasons = [d.get("reason") for d in error.get("details", []) if d.get("@type") == ERROR_INFO]
    assert reasons and all(reasons), f"{label} answered {status} without an ErrorInfo: {error}"


def _schema(document: dict[str, Any]) -> Any:
    config = SchemathesisConfig()
    # NUL characters in generated strings, on purpose (schemathesis' default, said aloud).
    config.projects.default.generation.update(allow_x00=True)
    # Only the document's own links chain operations: links schemathesis infers from list
    # answers draw from data that changes between runs (hypothesis then calls the strategy
    # flaky), and this contract's document states its links (server/rest/openapi.py).
    config.projects.default.phases.stateful.inference.algorithms = []
    return schemathesis.openapi.from_dict(document, config=config).exclude(
        path_regex="^/api/v1/webhooks/"
    )


def _stateless(document: dict[str, Any], base_url: str) -> list[str]:
    """Runs in a thread: schemathesis calls synchronously, and the server shares our loop."""
    checked: list[str] = []
    for result in _schema(document).get_all_operations():
        operation = result.ok()

        # Valid requests (they reach the domain) and invalid ones (NUL where the document
        # forbids it, wrong types, out of range): both must be answered, never with a 5xx.
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=cases)
        @_settings(EXAMPLES_PER_OPERATION)
        def run(case: Any) -> None:
            response = case.call(base_url=base_url, headers=rest_headers())
            assert_aip193(response.status_code, response.content, case.operation.label)

        run()
        checked.append(operation.label)
    return checked


def _payment_body() -> dict[str, Any]:
    """A payment the service takes: the random ones a generator draws from the document
    rarely are (a supported currency, a token with its type), so each scenario starts from
    one, and the document's links carry its id into capture, refund, cancel ..."""
    return {
        "order_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "amount_minor": "1099",
        "currency": "EUR",
        "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
        "payment_method_token": "pm_card_visa",
        "authorize": True,
    }


def _stateful(document: dict[str, Any], base_url: str) -> tuple[list[str], list[str]]:
    """(what went wrong, the labels of the answered steps that named an existing resource:
    an id the machine took from an earlier answer through a link - a payment created, then
    captured ...).

    A scenario's steps depend on the server's answers, which change as the database grows:
    when hypothesis replays a sequence it may find it cannot (Flaky), and so does
    schemathesis' own runner, which takes that as the end of the phase, not a failure. So
    every answer is judged as it comes, into `problems`, and a Flaky ends the run."""
    reached: list[str] = []
    problems: list[str] = []
    schema = _schema(document)
    base = schema.as_state_machine()
    create = schema["/api/v1/payments"]["POST"]

    class Machine(base):  # type: ignore[misc,valid-type]
        @initialize(target=base.bundles["POST /api/v1/payments -> 200"])
        def create_payment(self) -> StepOutput | None:
            # Recorded as the machine records its own first steps, so that the links'
            # transitions find their parent.
            case = create.Case(body=_payment_body(), media_type="application/json")
            step = StepInput.initial(case)
            self.recorder.record_case(case=case)
            self.control.record_step(step, self.recorder)
            return self._step(step)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "headers": rest_headers()}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            try:
                assert_aip193(response.status_code, response.content, case.operation.label)
            except AssertionError as wrong:
                problems.append(str(wrong))
            if case.path_parameters and response.status_code < 300:
                reached.append(case.operation.label)

    with contextlib.suppress(Flaky):
        Machine.run(settings=_settings(STATEFUL_SCENARIOS))
    return problems, reached


@pytest.fixture(scope="module")
async def document(rest_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await rest_client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_no_operation_answers_5xx_and_every_4xx_has_its_reason(
    app: PaymentApplication, document: dict[str, Any]
) -> None:
    base_url = f"http://127.0.0.1:{app.rest_port}"
    checked = await asyncio.to_thread(_stateless, document, base_url)
    assert "POST /api/v1/payments" in checked and len(checked) >= 20


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_the_stateful_phase_chains_operations_without_5xx(
    app: PaymentApplication, document: dict[str, Any]
) -> None:
    links = sum(
        len(op["responses"]["200"].get("links", {}))
        for item in document["paths"].values()
        for op in item.values()
        if "200" in op.get("responses", {})
    )
    assert links  # the document chains operations (server/rest/openapi.py)
    base_url = f"http://127.0.0.1:{app.rest_port}"
    problems, reached = await asyncio.to_thread(_stateful, document, base_url)
    assert problems == []
    print(sorted(set(reached)))  # the routes reached through links (pytest -s)
    assert reached  # some ids came from earlier answers: operations were chained
