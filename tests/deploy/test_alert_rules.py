"""The alerting rules in deploy/: the compose rule file and the Kubernetes PrometheusRule
hold the same groups; each rule is well formed (Prometheus's rule fields, a duration, a
severity); and every metric a rule's expression reads is one the service exports - so a
renamed metric cannot leave an alert silently watching nothing. Offline: no promtool here,
so the expression's metric names are checked against the service's own registry."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import generate_latest

from server.metrics import ServiceMetrics
from tests.deploy.manifests import COMPOSE, DEPLOY, load, one

RULE_FIELDS = {"alert", "expr", "for", "labels", "annotations"}
_METRIC = re.compile(r"\b(payments_[a-z_]+)\b")


def compose_rules() -> dict[str, Any]:
    mounts = load(COMPOSE)["services"]["prometheus"]["volumes"]
    source = next(
        m.split(":")[0] for m in mounts if m.split(":")[1].endswith("payment-service.yml")
    )
    rules: dict[str, Any] = load(DEPLOY / source)
    return rules


def exported_metric_names() -> set[str]:
    metrics = ServiceMetrics()
    metrics.disputes.by_status.labels(status="OPENED").set(0)
    text = generate_latest(metrics.registry).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_compose_and_kubernetes_hold_the_same_rules() -> None:
    config = load(DEPLOY / "compose" / "prometheus.yml")
    assert config["rule_files"] == ["/etc/prometheus/rules/payment-service.yml"]
    assert one("PrometheusRule")["spec"]["groups"] == compose_rules()["groups"]


def test_every_rule_is_well_formed_and_reads_exported_metrics() -> None:
    exported = exported_metric_names()
    rules = [rule for group in compose_rules()["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} >= {"PaymentDisputeRatioHigh"}
    for rule in rules:
        assert set(rule) <= RULE_FIELDS and {"alert", "expr"} <= set(rule), rule
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["for"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        read = set(_METRIC.findall(rule["expr"]))
        assert read and read <= exported, (rule["alert"], read - exported)


def test_the_dispute_alert_compares_the_ratio_with_the_configured_threshold() -> None:
    [rule] = [
        r for g in compose_rules()["groups"] for r in g["rules"]
        if r["alert"] == "PaymentDisputeRatioHigh"
    ]  # fmt: skip
    assert set(_METRIC.findall(rule["expr"])) == {
        "payments_dispute_ratio", "payments_dispute_ratio_alert_threshold",
    }  # fmt: skip
    configmap = one("ConfigMap")["data"]
    assert 0 < float(configmap["DISPUTE_RATIO_ALERT_THRESHOLD"]) < 1
