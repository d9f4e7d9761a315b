"""deploy/prometheus/alerts.yaml and deploy/grafana/payment-service.json: they parse, carry
what an on-call engineer needs, and read only metrics the service exports (the names its
registry holds, server/metrics.py), so a renamed metric cannot silently mute an alert."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.metrics import ServiceMetrics
from tests.deploy.manifests import DEPLOY, load
from tests.support.promql import exported_names, metric_names

ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
DASHBOARD = DEPLOY / "grafana" / "payment-service.json"
# Read by the rules though not exported by the service: Prometheus's own.
NOT_OURS = {"up"}


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return exported_names(ServiceMetrics().registry)


def rules() -> list[dict[str, Any]]:
    doc = load(ALERTS)
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_scanner_finds_metric_names_only() -> None:
    expr = (
        'sum by (le, gateway) (rate(a_bucket{code=~"X|Y", le!="1"}[5m] offset 1h)) '
        "/ clamp_min(sum without (pid) (b_total), 1e-9) > 0.5 and on (gateway) c == 1"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}


def test_every_rule_is_complete_and_named_once() -> None:
    found = rules()
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names)), names
    for rule in found:
        assert rule["expr"].strip(), rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert metric_names(rule["expr"]), rule["alert"]


def test_the_rules_watch_what_on_call_needs() -> None:
    watched = set().union(*(metric_names(rule["expr"]) for rule in rules()))
    assert {
        "payments_grpc_requests_total",  # error rate
        "payments_grpc_request_duration_seconds_bucket",  # p95 latency SLO
        "payments_outbox_lag_seconds",
        "payments_open_operations",
        "payments_circuit_open",
        "payments_order_events_dead_lettered_total",
        "payments_order_events_consumer_lag",
        "payments_dispute_ratio",
    } <= watched


def test_the_dispute_ratio_rule_has_a_threshold() -> None:
    rule = next(r for r in rules() if "payments_dispute_ratio" in metric_names(r["expr"]))
    assert ">" in rule["expr"]


def test_every_rule_reads_exported_metrics(exported: set[str]) -> None:
    for rule in rules():
        unknown = metric_names(rule["expr"]) - exported - NOT_OURS
        assert not unknown, f"{rule['alert']} reads {sorted(unknown)}"


def test_the_dashboard_is_valid_and_reads_exported_metrics(exported: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    queries = dashboard_queries()
    assert len(queries) >= 10
    for expr in queries:
        names = metric_names(expr)
        assert names, expr
        assert not names - exported - NOT_OURS, expr


def test_latency_buckets_reach_30_seconds() -> None:
    metrics = ServiceMetrics()
    metrics.grpc_latency.labels(method="/x").observe(25)
    metrics.gateway_latency.labels(gateway="g", operation="o", outcome="ok").observe(25)
    registry = metrics.registry
    grpc_bucket = "payments_grpc_request_duration_seconds_bucket"
    assert registry.get_sample_value(grpc_bucket, {"method": "/x", "le": "20.0"}) == 0
    assert registry.get_sample_value(grpc_bucket, {"method": "/x", "le": "30.0"}) == 1
    gateway = {"gateway": "g", "operation": "o", "outcome": "ok", "le": "30.0"}
    assert registry.get_sample_value("payments_gateway_call_duration_seconds_bucket", gateway) == 1
