"""Fraud checks end to end: a real server, real PostgreSQL and Redis (velocity counters), a
real HTTP server as the external scorer; the simulator counts the gateway calls."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format

from infra.db.audit import SqlAuditReader
from payments.v1 import payment_pb2
from payments.v1 import payment_service_pb2 as pb
from tests.e2e.guarded_app import Guarded, guarded_app
from tests.e2e.helpers import create_request, new_id, rpc_error
from tests.fakes.http_server import STALL, HttpServer, Request, Response
from tests.support.actors import acting_as
from tests.support.channels import rest_headers
from tests.support.redis_server import RedisServer

FRAUD = {
    "fraud_review_amount_limits": "EUR:50000",
    "fraud_block_amount_limits": "EUR:500000",
    "fraud_velocity_max_per_user": 2,
}
RISK = payment_pb2.RiskDecision
STATUS = payment_pb2.PaymentStatus


@pytest.fixture
async def guarded(
    database_url: str, redis_url: str, redis_key_prefix: str
) -> AsyncIterator[Guarded]:
    async with guarded_app(database_url, redis_url, redis_key_prefix, **FRAUD) as running:
        yield running


async def get(guarded: Guarded, payment_id: str) -> payment_pb2.Payment:
    return (await guarded.stub.GetPayment(pb.GetPaymentRequest(payment_id=payment_id))).payment


# --- BLOCK -----------------------------------------------------------------------------------
async def test_velocity_exceeded_blocks_with_fraud_suspected_and_no_gateway_call(
    guarded: Guarded,
) -> None:
    user = new_id()
    for _ in range(2):
        answer = await guarded.stub.CreatePayment(create_request(user_id=user, authorize=True))
        assert answer.payment.status == STATUS.PAYMENT_STATUS_AUTHORIZED
        assert answer.payment.risk.decision == RISK.RISK_DECISION_ALLOW
    calls_before = guarded.gateway_calls()
    error = await rpc_error(
        guarded.stub.CreatePayment(create_request(user_id=user, authorize=True))
    )
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "FRAUD_SUSPECTED")
    payment_id = error.metadata["payment_id"]
    assert guarded.gateway_calls() == calls_before  # the gateway never heard of it
    payment = await get(guarded, payment_id)
    assert payment.status == STATUS.PAYMENT_STATUS_FAILED
    assert payment.failure_code == "FRAUD_SUSPECTED"
    assert list(payment.transactions) == []
    assert payment.risk.decision == RISK.RISK_DECISION_BLOCK
    assert list(payment.risk.rules_hit) == ["VELOCITY_USER"]
    assert payment.risk.assessed_at.seconds > 0
    [(event_type, published)] = await guarded.events(payment_id)
    assert event_type == "payment.failed"
    assert '"failureCode":"FRAUD_SUSPECTED"' in published
    assert '"reason":"refused by the fraud checks"' in published
    # Another user is counted on their own.
    other = await guarded.stub.CreatePayment(create_request(authorize=True))
    assert other.payment.status == STATUS.PAYMENT_STATUS_AUTHORIZED


async def test_an_amount_over_the_block_limit_is_refused_over_rest(
    guarded: Guarded,
) -> None:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{guarded.app.rest_port}", headers=rest_headers()
    ) as rest:
        answer = await rest.post(
            "/api/v1/payments",
            json=json_format.MessageToDict(create_request(amount_minor=500_001, authorize=True)),
        )
    assert answer.status_code == 400
    body = answer.json()["error"]
    assert body["status"] == "FAILED_PRECONDITION"
    [info] = [d for d in body["details"] if d["@type"].endswith("ErrorInfo")]
    assert info["reason"] == "FRAUD_SUSPECTED"
    assert guarded.gateway_calls() == 0


# --- REVIEW ----------------------------------------------------------------------------------
async def held(guarded: Guarded) -> payment_pb2.Payment:
    answer = await guarded.stub.CreatePayment(create_request(amount_minor=50_001, authorize=True))
    assert answer.payment.status == STATUS.PAYMENT_STATUS_UNDER_REVIEW
    return answer.payment


async def test_review_holds_the_payment_until_an_admin_approves_it(guarded: Guarded) -> None:
    payment = await held(guarded)
    assert payment.risk.decision == RISK.RISK_DECISION_REVIEW
    assert list(payment.risk.rules_hit) == ["AMOUNT_OVER_REVIEW_LIMIT"]
    assert guarded.gateway_calls() == 0
    [(event_type, published)] = await guarded.events(payment.payment_id)
    assert event_type == "payment.requires_review"
    assert '"rulesHit":["AMOUNT_OVER_REVIEW_LIMIT"]' in published
    # Authorizing it again is refused while it is held.
    error = await rpc_error(
        guarded.stub.AuthorizePayment(pb.AuthorizePaymentRequest(payment_id=payment.payment_id))
    )
    assert error.reason == "INVALID_STATE_TRANSITION"

    approved = await guarded.stub.ReviewPayment(
        pb.ReviewPaymentRequest(
            payment_id=payment.payment_id,
            request_id=new_id(),
            decision=payment_pb2.REVIEW_DECISION_APPROVE,
            reason="customer confirmed by phone",
        ),
        metadata=acting_as("risk-officer-7", "admin"),
    )
    after = approved.payment
    assert after.status == STATUS.PAYMENT_STATUS_AUTHORIZED
    assert after.authorized_amount_minor == 50_001
    assert guarded.gateway_calls() == 1
    review = after.risk.review
    assert (review.decision, review.reviewer, review.reason) == (
        payment_pb2.REVIEW_DECISION_APPROVE,
        "risk-officer-7",
        "customer confirmed by phone",
    )
    assert after.risk.decision == RISK.RISK_DECISION_REVIEW  # what the checks said stays
    assert [t for t, _ in await guarded.events(payment.payment_id)] == [
        "payment.requires_review",
        "payment.authorized",
    ]
    assert await get(guarded, payment.payment_id) == after
    # The audit trail tells who held it and who let it through, in order.
    assert guarded.app.engine is not None
    trail = await SqlAuditReader(guarded.app.engine).for_resource("payment", payment.payment_id)
    steps = [(e.entry.action, e.entry.actor_subject) for e in trail]
    hold = steps.index(("payment.risk_hold", "tests"))
    approval = steps.index(("admin.fraud_review.approve", "risk-officer-7"))
    assert hold < approval < steps.index(("payment.authorize", "risk-officer-7"))
    held_fields = trail[hold].entry.after
    assert held_fields is not None and held_fields["rules_hit"] == ["AMOUNT_OVER_REVIEW_LIMIT"]


async def test_review_rejected_fails_the_payment_over_rest(guarded: Guarded) -> None:
    payment = await held(guarded)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{guarded.app.rest_port}", headers=rest_headers()
    ) as rest:
        answer = await rest.post(
            f"/api/v1/payments/{payment.payment_id}/review",
            json={"decision": "REVIEW_DECISION_REJECT", "reason": "card reported stolen"},
        )
        assert answer.status_code == 200, answer.text
        rejected = answer.json()["payment"]
        assert rejected["status"] == "PAYMENT_STATUS_FAILED"
        assert rejected["failure_code"] == "FRAUD_SUSPECTED"
        assert rejected["risk"]["review"]["decision"] == "REVIEW_DECISION_REJECT"
        # Decided: a second decision is refused.
        again = await rest.post(
            f"/api/v1/payments/{payment.payment_id}/review",
            json={"decision": "REVIEW_DECISION_APPROVE", "reason": "changed my mind"},
        )
        assert again.status_code == 400
        assert again.json()["error"]["details"][0]["reason"] == "PAYMENT_NOT_UNDER_REVIEW"
    assert guarded.gateway_calls() == 0
    assert [t for t, _ in await guarded.events(payment.payment_id)] == [
        "payment.requires_review",
        "payment.failed",
    ]
    error = await rpc_error(
        guarded.stub.AuthorizePayment(pb.AuthorizePaymentRequest(payment_id=payment.payment_id))
    )
    assert error.reason == "INVALID_STATE_TRANSITION"
    assert guarded.gateway_calls() == 0


async def test_a_review_without_decision_or_reason_is_invalid(guarded: Guarded) -> None:
    payment = await held(guarded)
    error = await rpc_error(
        guarded.stub.ReviewPayment(pb.ReviewPaymentRequest(payment_id=payment.payment_id))
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(error.field_violations) == {"decision", "reason"}
    assert (await get(guarded, payment.payment_id)).status == STATUS.PAYMENT_STATUS_UNDER_REVIEW


async def test_an_end_user_does_not_see_which_rules_fired(guarded: Guarded) -> None:
    payment = await held(guarded)
    request = pb.GetPaymentRequest(payment_id=payment.payment_id)
    as_user = await guarded.stub.GetPayment(request, metadata=acting_as(payment.user_id))
    assert as_user.payment.status == STATUS.PAYMENT_STATUS_UNDER_REVIEW
    assert not as_user.payment.HasField("risk")
    as_admin = await guarded.stub.GetPayment(request, metadata=acting_as("ops", "admin"))
    assert list(as_admin.payment.risk.rules_hit) == ["AMOUNT_OVER_REVIEW_LIMIT"]


# --- the external scorer ---------------------------------------------------------------------
class Scorer:
    """A real HTTP server scoring by user id (0 for users it does not know)."""

    def __init__(self) -> None:
        self.scores: dict[str, object] = {}
        self.requests: list[dict[str, Any]] = []
        self.server = HttpServer(self._handle)

    async def _handle(self, request: Request) -> object:
        body = request.json()
        self.requests.append(body)
        score = self.scores.get(body["userId"], 0)
        return STALL if score is STALL else Response(200, {"score": score})


@pytest.fixture
async def scorer() -> AsyncIterator[Scorer]:
    fake = Scorer()
    await fake.server.start()
    yield fake
    await fake.server.close()


def scored(scorer: Scorer, **settings: Any) -> dict[str, Any]:
    return {
        "fraud_scorer_url": f"{scorer.server.url}/v1/score",
        "fraud_scorer_timeout_seconds": 0.5,
        "fraud_scorer_review_score": 60,
        "fraud_scorer_block_score": 85,
    } | settings


async def test_the_scorer_decides_allow_review_and_block(
    scorer: Scorer, database_url: str, redis_url: str, redis_key_prefix: str
) -> None:
    safe, doubtful, fraudster = new_id(), new_id(), new_id()
    scorer.scores = {safe: 10, doubtful: 70, fraudster: 97.5}
    async with guarded_app(database_url, redis_url, redis_key_prefix, **scored(scorer)) as guarded:
        ok = (
            await guarded.stub.CreatePayment(create_request(user_id=safe, authorize=True))
        ).payment
        assert ok.status == STATUS.PAYMENT_STATUS_AUTHORIZED
        assert (ok.risk.decision, ok.risk.score) == (RISK.RISK_DECISION_ALLOW, 10)
        review = (
            await guarded.stub.CreatePayment(create_request(user_id=doubtful, authorize=True))
        ).payment
        assert review.status == STATUS.PAYMENT_STATUS_UNDER_REVIEW
        assert (list(review.risk.rules_hit), review.risk.score) == (["SCORER_REVIEW"], 70)
        error = await rpc_error(
            guarded.stub.CreatePayment(create_request(user_id=fraudster, authorize=True))
        )
        assert error.reason == "FRAUD_SUSPECTED"
        blocked = await get(guarded, error.metadata["payment_id"])
        assert (list(blocked.risk.rules_hit), blocked.risk.score) == (["SCORER_BLOCK"], 98)
        assert guarded.gateway_calls() == 1  # only the safe one
    assert [r["userId"] for r in scorer.requests] == [safe, doubtful, fraudster]
    assert scorer.requests[0]["amountMinor"] == 1099
    assert "pm_card_visa" not in str(scorer.requests)  # never the token


async def test_a_scorer_timeout_fails_open_by_default(
    scorer: Scorer,
    database_url: str,
    redis_url: str,
    redis_key_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = new_id()
    scorer.scores[user] = STALL
    caplog.set_level(logging.WARNING, "payments.fraud")
    async with guarded_app(database_url, redis_url, redis_key_prefix, **scored(scorer)) as guarded:
        answer = await guarded.stub.CreatePayment(create_request(user_id=user, authorize=True))
    assert answer.payment.status == STATUS.PAYMENT_STATUS_AUTHORIZED
    assert list(answer.payment.risk.rules_hit) == ["SCORER_UNAVAILABLE"]
    assert not answer.payment.risk.HasField("score")
    assert any("SCORER_UNAVAILABLE" in r.getMessage() for r in caplog.records)


async def test_a_scorer_timeout_blocks_when_it_fails_closed(
    scorer: Scorer, database_url: str, redis_url: str, redis_key_prefix: str
) -> None:
    user = new_id()
    scorer.scores[user] = STALL
    settings = scored(scorer, fraud_scorer_fail_mode="closed")
    async with guarded_app(database_url, redis_url, redis_key_prefix, **settings) as guarded:
        error = await rpc_error(
            guarded.stub.CreatePayment(create_request(user_id=user, authorize=True))
        )
        assert error.reason == "FRAUD_SUSPECTED"
        blocked = await get(guarded, error.metadata["payment_id"])
        assert list(blocked.risk.rules_hit) == ["SCORER_UNAVAILABLE"]
        assert guarded.gateway_calls() == 0


# --- Redis down ------------------------------------------------------------------------------
async def test_velocity_fails_open_while_redis_is_down(
    private_redis: RedisServer,
    database_url: str,
    redis_key_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "payments.fraud")
    user = new_id()
    async with guarded_app(
        database_url, private_redis.url, redis_key_prefix, fraud_velocity_max_per_user=1
    ) as guarded:
        first = await guarded.stub.CreatePayment(create_request(user_id=user, authorize=True))
        assert first.payment.status == STATUS.PAYMENT_STATUS_AUTHORIZED
        private_redis.stop()
        # Over the limit, but the counters are unreachable: allowed, and it shows.
        second = await guarded.stub.CreatePayment(create_request(user_id=user, authorize=True))
        assert second.payment.status == STATUS.PAYMENT_STATUS_AUTHORIZED
        assert list(second.payment.risk.rules_hit) == ["VELOCITY_UNAVAILABLE"]
        assert guarded.gateway_calls() == 2
    assert any("VELOCITY_UNAVAILABLE" in r.getMessage() for r in caplog.records)
