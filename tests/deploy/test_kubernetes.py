"""deploy/kubernetes/ validated offline against the Kubernetes 1.37 schemas shipped in
kubernetes-validate (strict: an unknown field is an error), plus what no schema knows: the
probes are on the ops port the ConfigMap sets, secrets arrive as files the service reads
through its *_FILE variables, every variable is one the service knows, selectors select the
pods. The ServiceMonitor is a CRD (Prometheus Operator) with no schema in kubernetes-validate:
its structure is checked by hand; the Kustomization is kustomize's, not an API object."""

from __future__ import annotations

import base64
import copy
import os
from pathlib import Path, PurePosixPath

import kubernetes_validate
import pytest

from server.config import Settings
from server.pci import pci_problems
from tests.deploy.manifests import (
    KUBERNETES,
    Doc,
    kubernetes_documents,
    kustomization,
    one,
    setting_names,
)
from tests.support.certificates import make_pki

K8S_VERSION = "1.37.0"
NOT_IN_SCHEMAS = {"monitoring.coreos.com/v1"}  # CRDs, checked by hand below
SECRET_VOLUME = "payment-service-secrets"
TLS_DIR = "/etc/payment-service/tls/"


def _schema_documents() -> list[tuple[str, Doc]]:
    return [(f, d) for f, d in kubernetes_documents() if d["apiVersion"] not in NOT_IN_SCHEMAS]


def test_the_kustomization_lists_every_manifest() -> None:
    files = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization()["resources"]) == files
    kinds = {doc["kind"] for _, doc in kubernetes_documents()}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job",
            "ConfigMap", "Secret", "NetworkPolicy", "ServiceMonitor"} <= kinds  # fmt: skip


@pytest.mark.parametrize(
    "doc", [d for _, d in _schema_documents()], ids=[f for f, _ in _schema_documents()]
)
def test_manifest_is_valid_against_the_kubernetes_schema(doc: Doc) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validation_refuses_a_wrong_manifest() -> None:
    """The check above can fail: a misspelt field and a wrong type are refused."""
    deployment = one("Deployment")
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["replicaz"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, K8S_VERSION, strict=True)
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, K8S_VERSION, strict=True)


def _container(kind: str) -> Doc:
    containers = one(kind)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Doc = containers[0]
    return container


def test_probes_use_the_ops_port() -> None:
    container = _container("Deployment")
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["ops"] == int(one("ConfigMap")["data"]["OPS_PORT"])
    probes = {
        kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": ("/livez", "ops"),
        "livenessProbe": ("/livez", "ops"),
        "readinessProbe": ("/readyz", "ops"),
    }
    for probe in probes:  # plain HTTP: the ops port never speaks TLS
        assert container[probe]["httpGet"].get("scheme", "HTTP") == "HTTP"


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_runs_as_non_root_on_a_read_only_root_filesystem(kind: str) -> None:
    pod = one(kind)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    container = _container(kind)
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"])


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_secrets_are_files_read_through_file_variables(kind: str) -> None:
    pod = one(kind)["spec"]["template"]["spec"]
    container = _container(kind)
    secret_keys = set(one("Secret", SECRET_VOLUME)["stringData"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    secret_dirs = {
        mounts[v["name"]]: v["secret"]
        for v in pod["volumes"]
        if v.get("secret", {}).get("secretName") == SECRET_VOLUME
    }
    files = [e for e in container.get("env", []) if e["name"].endswith("_FILE")]
    assert files, "no secret read from a file"
    for variable in container.get("env", []):
        assert "valueFrom" not in variable, f"{variable['name']}: a secret in the environment"
        assert variable["name"] in setting_names(), f"{variable['name']} is not a setting"
    for variable in files:
        path = PurePosixPath(variable["value"])
        assert str(path.parent) in secret_dirs, f"{variable['name']}: {path} is not mounted"
        items = secret_dirs[str(path.parent)].get("items")
        keys = (
            {item["path"]: item["key"] for item in items} if items else {k: k for k in secret_keys}
        )
        assert keys.get(path.name) in secret_keys, f"{variable['name']}: no key {path.name}"


def test_every_configmap_variable_is_a_setting() -> None:
    data = one("ConfigMap")["data"]
    assert set(data) <= setting_names(), set(data) - setting_names()
    # No secret in the ConfigMap: passwords and keys come from the Secret's files.
    assert not {name for name in data if "PASSWORD" in name or name.endswith("_KEY")}


def test_selectors_select_the_pods() -> None:
    deployment = one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert one("Service")["spec"]["selector"].items() <= labels.items()
    assert one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    policy = one("NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    hpa = one("HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    # Each replica's connection budget counts as many replicas as the HPA may run.
    assert int(one("ConfigMap")["data"]["DB_REPLICAS"]) >= hpa["maxReplicas"]


def test_only_prometheus_reaches_the_ops_port() -> None:
    rules = one("NetworkPolicy")["spec"]["ingress"]
    to_ops = [rule for rule in rules if any(p["port"] == "ops" for p in rule["ports"])]
    assert len(to_ops) == 1
    (source,) = to_ops[0]["from"]
    assert source["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    assert source["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    # The public ports' rules do not open the ops port.
    for rule in rules:
        if rule is not to_ops[0]:
            assert {p["port"] for p in rule["ports"]} <= {"grpc", "http"}


def test_the_service_monitor_scrapes_the_ops_port() -> None:
    """By hand: the CRD's schema is not in kubernetes-validate."""
    monitor = one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(monitor["metadata"]) <= {"name", "namespace", "labels", "annotations"}
    spec = monitor["spec"]
    assert set(spec) <= {"selector", "namespaceSelector", "endpoints", "jobLabel"}
    service = one("Service")
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
    (endpoint,) = spec["endpoints"]
    assert set(endpoint) <= {"port", "path", "scheme", "interval", "scrapeTimeout"}
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert (endpoint["port"], endpoint["path"], endpoint["scheme"]) == ("ops", "/metrics", "http")
    for duration in (endpoint["interval"], endpoint["scrapeTimeout"]):
        assert duration.endswith("s") and duration[:-1].isdigit()


def test_the_settings_pass_pci_compliance_mode(tmp_path: Path) -> None:
    """The ConfigMap and the Deployment's variables, with the secret files filled with
    fresh keys, make settings the service accepts and PCI_COMPLIANCE_MODE does not refuse."""
    pki = make_pki(tmp_path)
    tls = {"tls.crt": pki.server.cert, "tls.key": pki.server.key, "ca.crt": pki.ca.cert}
    env: dict[str, object] = {
        name: str(tls[PurePosixPath(value).name]) if value.startswith(TLS_DIR) else value
        for name, value in one("ConfigMap")["data"].items()
    }
    values = {
        "encryption-key": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "blind-index-key": base64.b64encode(os.urandom(32)).decode(),
    }
    for variable in _container("Deployment")["env"]:
        name = PurePosixPath(variable["value"]).name
        secret = tmp_path / name
        secret.write_text(values.get(name, "not-a-real-secret"))
        env[variable["name"]] = str(secret)
    settings = Settings(**{name.lower(): value for name, value in env.items()})  # type: ignore[arg-type]
    assert settings.pci_compliance_mode
    assert pci_problems(settings) == []
