"""The dispute alert in deploy/: the rule file compose loads (deploy/prometheus/alerts.yaml)
and the Kubernetes PrometheusRule carry the same rules, well formed; the dispute rule
compares the ratio with the threshold the service exports from its setting (so the
threshold is configured in one place), and both metrics it reads are ones the service
exports - a renamed metric cannot leave the alert silently watching nothing. Offline: no
promtool here, so the expression's metric names are checked against the service's own
registry."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import generate_latest

from server.metrics import ServiceMetrics
from tests.deploy.manifests import COMPOSE, DEPLOY, load, one

RULE_FIELDS = {"alert", "expr", "for", "labels", "annotations"}
_METRIC = re.compile(r"\b(payments_[a-z_]+)\b")
DISPUTE_ALERT = "PaymentsDisputeRatioHigh"


def rule_file() -> dict[str, Any]:
    """The rule file compose mounts where prometheus.yml's rule_files says."""
    [path] = load(DEPLOY / "compose" / "prometheus.yml")["rule_files"]
    mounts = load(COMPOSE)["services"]["prometheus"]["volumes"]
    source = next(m.split(":")[0] for m in mounts if m.split(":")[1] == path)
    rules: dict[str, Any] = load(DEPLOY / source)
    return rules


def rules_by_name(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def exported_metric_names() -> set[str]:
    text = generate_latest(ServiceMetrics().registry).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_the_kubernetes_rules_are_the_rule_files() -> None:
    in_file = rules_by_name(rule_file()["groups"])
    in_cluster = rules_by_name(one("PrometheusRule")["spec"]["groups"])
    assert DISPUTE_ALERT in in_cluster
    for name, rule in in_cluster.items():
        assert in_file.get(name) == rule, name


def test_the_dispute_rule_is_well_formed() -> None:
    rule = rules_by_name(rule_file()["groups"])[DISPUTE_ALERT]
    assert set(rule) <= RULE_FIELDS and {"alert", "expr"} <= set(rule), rule
    assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["for"]
    assert rule["labels"]["severity"] in {"page", "ticket"}
    assert rule["annotations"]["summary"]


def test_the_dispute_rule_compares_the_exported_ratio_with_the_configured_threshold() -> None:
    rule = rules_by_name(rule_file()["groups"])[DISPUTE_ALERT]
    read = set(_METRIC.findall(rule["expr"]))
    assert read == {"payments_dispute_ratio", "payments_dispute_ratio_alert_threshold"}
    assert read <= exported_metric_names()
    assert not re.search(r"\d", rule["expr"]), "the threshold is a setting, not a number"
    configmap = one("ConfigMap")["data"]
    assert 0 < float(configmap["DISPUTE_RATIO_ALERT_THRESHOLD"]) < 1
