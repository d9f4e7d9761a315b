"""AnalyticsService through grpcurl against the real `payment-service` process: after two
captured payments and one decline, GetPaymentStats and GetRevenue show them in the current
bucket (the projector counts the committed events in the background). And the business
metrics and the REST route on the session's in-process server."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.api import httpbody_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from payments.v1 import analytics_service_pb2 as apb
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import webhook_service_pb2 as wpb
from payments.v1.analytics_service_pb2_grpc import AnalyticsServiceStub
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from payments.v1.webhook_service_pb2_grpc import WebhookServiceStub
from tests.e2e.helpers import create_request
from tests.support.auth import admin_token, issuer
from tests.support.polling import eventually
from tests.support.server_process import ServerProcess
from tests.support.webhook_signing import SESSION_STRIPE_SECRET, stripe_body, stripe_header

pytestmark = pytest.mark.slow
GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or "grpcurl"
PAYMENTS = "payments.v1.PaymentService"
ANALYTICS = "payments.v1.AnalyticsService"
# A currency no other test of the session pays in: the buckets of this group are this test's.
CURRENCY = "SEK"


@pytest.fixture
async def server(
    database_url: str, redis_url: str, redis_key_prefix: str
) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(
        database_url,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=redis_key_prefix,
        ANALYTICS_POLL_INTERVAL_SECONDS="0.1",
    )
    await process.start()
    yield process
    print(process.output()[-6000:])  # shown when the test failed
    process.close()


class GrpcurlError(Exception):
    def __init__(self, exit_code: int, output: str) -> None:
        super().__init__(output)
        self.exit_code, self.output = exit_code, output


def grpcurl(target: str, method: str, body: dict[str, Any], token: str | None = None) -> Any:
    args = [GRPCURL, "-plaintext", "-H", f"authorization: Bearer {token or admin_token()}"]
    args += ["-d", json.dumps(body), target, method]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GrpcurlError(result.returncode, result.stdout + result.stderr)
    return json.loads(result.stdout)


def pay(target: str, amount_minor: int, card: str, *, capture: bool) -> None:
    request = create_request()
    created = grpcurl(
        target,
        f"{PAYMENTS}/CreatePayment",
        {
            "order_id": request.order_id,
            "user_id": request.user_id,
            "amount_minor": amount_minor,
            "currency": CURRENCY,
            "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
            "payment_method_token": card,
            "request_id": request.request_id,
        },
    )
    pid = created["payment"]["payment_id"]
    try:
        grpcurl(target, f"{PAYMENTS}/AuthorizePayment", {"payment_id": pid})
    except GrpcurlError:
        if capture:
            raise
        return  # the decline
    if capture:
        grpcurl(target, f"{PAYMENTS}/CapturePayment", {"payment_id": pid})


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def figures(target: str, since: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """This currency's payment stats and revenue from `since`'s hour on, summed over the
    hour buckets (one, the current, unless the hour turned during the test)."""
    token = issuer().mint(scopes=["analytics:read"])  # the scope alone is enough
    period = {
        "start_time": _stamp(since),
        "end_time": _stamp(datetime.now(UTC) + timedelta(hours=1)),
        "granularity": "ANALYTICS_GRANULARITY_HOUR",
    }
    stats = grpcurl(
        target,
        f"{ANALYTICS}/GetPaymentStats",
        period | {"group_by": ["PAYMENT_STATS_DIMENSION_CURRENCY"]},
        token,
    )
    totals = dict.fromkeys(("attempts", "authorized", "captured", "failed"), 0)
    for bucket in stats.get("buckets", []):
        if bucket["currency"] == CURRENCY:
            for name in totals:
                totals[name] += int(bucket["stats"].get(name, 0))
    revenue = grpcurl(target, f"{ANALYTICS}/GetRevenue", period, token)
    money = dict.fromkeys(("captured", "net"), 0)
    for bucket in revenue.get("buckets", []):
        for amounts in bucket.get("amounts", []):
            if amounts["currency"] == CURRENCY:
                money["captured"] += int(amounts.get("captured_amount_minor", 0))
                money["net"] += int(amounts.get("net_amount_minor", 0))
    return totals, money


async def test_two_captures_and_a_decline_show_in_the_current_bucket(
    server: ServerProcess,
) -> None:
    target = server.target
    since = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    before_stats, before_money = await asyncio.to_thread(figures, target, since)

    await asyncio.to_thread(pay, target, 1000, "pm_card_visa", capture=True)
    await asyncio.to_thread(pay, target, 2500, "pm_card_mastercard", capture=True)
    await asyncio.to_thread(pay, target, 700, "pm_card_chargeDeclined", capture=False)

    expected_stats = {"attempts": 3, "authorized": 2, "captured": 2, "failed": 1}
    expected_money = {"captured": 3500, "net": 3500}
    seen: list[Any] = []

    async def counted() -> bool:
        stats, money = await asyncio.to_thread(figures, target, since)
        seen[:] = [stats, money]
        grew = {k: stats[k] - before_stats[k] for k in expected_stats}
        earned = {k: money[k] - before_money[k] for k in expected_money}
        return grew == expected_stats and earned == expected_money

    await eventually(counted, within=20, interval=0.2)
    # Nothing more is counted later (each event once).
    assert await counted(), seen


def test_scopes_and_invalid_periods_are_refused(server: ServerProcess) -> None:
    period = {
        "start_time": "2026-12-07T10:00:00Z",
        "end_time": "2026-12-07T11:00:00Z",
        "granularity": "ANALYTICS_GRANULARITY_DAY",
    }
    payments_only = issuer().mint(scopes=["payments:read"])
    with pytest.raises(GrpcurlError) as refused:
        grpcurl(server.target, f"{ANALYTICS}/GetPaymentStats", period, payments_only)
    assert refused.value.exit_code == 64 + grpc.StatusCode.PERMISSION_DENIED.value[0]

    backwards = period | {"end_time": "2026-12-07T09:00:00Z"}
    with pytest.raises(GrpcurlError) as invalid:
        grpcurl(server.target, f"{ANALYTICS}/GetRevenue", backwards)
    assert invalid.value.exit_code == 64 + grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "VALIDATION_FAILED" in invalid.value.output
    assert "end_time" in invalid.value.output

    no_granularity = {k: v for k, v in period.items() if k != "granularity"}
    with pytest.raises(GrpcurlError) as unset:
        grpcurl(server.target, f"{ANALYTICS}/GetPaymentStats", no_granularity)
    assert "granularity" in unset.value.output


def _sample(metrics: str, series: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_business_metrics_and_the_rest_route(rest_client: httpx.AsyncClient) -> None:
    """The projector's counters on /metrics, payments_by_status from the kept counts, and
    GET /api/v1/analytics/payment-stats through the REST shim."""
    currency = "NOK"  # no other test of the session pays in it
    outcome = (
        'payments_outcomes_total{currency="NOK",gateway="SIMULATOR",'
        'outcome="captured",payment_method_type="CREDIT_CARD"}'
    )
    captured = 'payments_captured_amount_minor_total{currency="NOK"}'
    before = (await rest_client.get("/metrics")).text
    body = {
        "order_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "amount_minor": 4200,
        "currency": currency,
        "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD",
        "payment_method_token": "pm_card_visa",
        "authorize": True,
    }
    created = await rest_client.post("/api/v1/payments", json=body)
    assert created.status_code == 200, created.text
    pid = created.json()["payment"]["payment_id"]
    capture = await rest_client.post(f"/api/v1/payments/{pid}/capture", json={})
    assert capture.status_code == 200, capture.text

    async def counted() -> bool:
        now = (await rest_client.get("/metrics")).text
        return (
            _sample(now, outcome) - _sample(before, outcome) == 1
            and _sample(now, captured) - _sample(before, captured) == 4200
        )

    await eventually(counted, within=20, interval=0.2)
    metrics = (await rest_client.get("/metrics")).text
    assert _sample(metrics, 'payments_by_status{status="CAPTURED"}') >= 1
    assert "payments_analytics_backlog " in metrics
    assert "payments_analytics_lag_seconds " in metrics

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    stats = await rest_client.get(
        "/api/v1/analytics/payment-stats",
        params={
            "start_time": _stamp(hour - timedelta(hours=1)),
            "end_time": _stamp(hour + timedelta(hours=1)),
            "granularity": "ANALYTICS_GRANULARITY_HOUR",
            "group_by": "PAYMENT_STATS_DIMENSION_CURRENCY",
        },
    )
    assert stats.status_code == 200, stats.text
    ours = [b for b in stats.json()["buckets"] if b["currency"] == currency]
    assert sum(int(b["stats"]["captured"]) for b in ours) == 1


async def _stripe_dispute(
    channel: grpc.aio.Channel, kind: str, dispute_id: str, payment: Any, status: str
) -> None:
    """A dispute event as Stripe's signed webhook reports it (the session server's secret)."""
    body = stripe_body(
        f"evt_{uuid.uuid4()}",
        kind,
        {
            "id": dispute_id, "object": "dispute", "amount": 600, "currency": "dkk",
            "reason": "fraudulent", "status": status,
            "payment_intent": payment.gateway_payment_id,
        },
    )  # fmt: skip
    header = stripe_header(body, SESSION_STRIPE_SECRET, int(time.time()))
    answer = await WebhookServiceStub(channel).HandleStripeWebhook(
        wpb.HandleStripeWebhookRequest(
            body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
        ),
        metadata=(("stripe-signature", header),),
    )
    assert answer.processed


async def test_a_dispute_opened_and_lost_shows_in_dispute_stats_and_revenue(
    channel: grpc.aio.Channel,
) -> None:
    """payment.disputed and payment.dispute_closed (lost), from a gateway's webhook, counted
    by the projector: GetDisputeStats and the net of GetRevenue show them."""
    currency = "DKK"  # no other test of the session pays in it
    analytics = AnalyticsServiceStub(channel)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(hour - timedelta(hours=1))
    end.FromDatetime(hour + timedelta(hours=2))
    period = {"start_time": start, "end_time": end}

    async def figures() -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        stats = await analytics.GetDisputeStats(apb.GetDisputeStatsRequest(**period))
        revenue = await analytics.GetRevenue(
            apb.GetRevenueRequest(**period, granularity=apb.ANALYTICS_GRANULARITY_HOUR)
        )
        ours = [m for m in revenue.totals if m.currency == currency]
        money = (
            (ours[0].disputed_amount_minor, ours[0].dispute_lost_amount_minor,
             ours[0].net_amount_minor) if ours else (0, 0, 0)
        )  # fmt: skip
        return (stats.opened, stats.lost, stats.captured_payments), money

    before_stats, before_money = await figures()
    request = create_request(amount_minor=2000, currency=currency)
    request.authorize = True
    payments = PaymentServiceStub(channel)
    created = await payments.CreatePayment(request)
    captured = await payments.CapturePayment(
        pb.CapturePaymentRequest(payment_id=created.payment.payment_id)
    )
    dispute_id = f"dp_{uuid.uuid4()}"
    await _stripe_dispute(
        channel, "charge.dispute.created", dispute_id, captured.payment, "needs_response"
    )
    await _stripe_dispute(channel, "charge.dispute.closed", dispute_id, captured.payment, "lost")

    async def counted() -> bool:
        stats, money = await figures()
        grew = tuple(a - b for a, b in zip(stats, before_stats, strict=True))
        moved = tuple(a - b for a, b in zip(money, before_money, strict=True))
        # One dispute opened and lost; this capture (the session's other payments may add
        # to the captures, in other currencies); 2000 captured, 600 lost.
        return grew[:2] == (1, 1) and grew[2] >= 1 and moved == (600, 600, 2000 - 600)

    await eventually(counted, within=20, interval=0.2)
