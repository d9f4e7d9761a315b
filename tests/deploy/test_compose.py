"""deploy/compose.yaml: valid against the Compose Specification's JSON schema (vendored in
check-jsonschema: no `docker compose` plugin or daemon is needed), and built as the deployment
needs: Apache Kafka in KRaft mode, two replicas of the service probed on the ops port,
Prometheus scraping it, secrets as files, every variable one the service knows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import COMPOSE, DEPLOY, load, setting_names


def _check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_valid_against_the_compose_specification() -> None:
    checked = _check_schema(COMPOSE)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_refuses_a_wrong_file(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key of a service is refused."""
    compose = load(COMPOSE)
    compose["services"]["payment-service"]["helthcheck"] = {"test": ["CMD", "true"]}
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(compose))
    assert _check_schema(broken).returncode != 0


@pytest.fixture(scope="module")
def compose() -> Any:
    return load(COMPOSE)


def test_every_component_is_there(compose: Any) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "kafka", "payment-service", "jaeger", "prometheus",
            "grafana"} <= set(services)  # fmt: skip
    assert services["payment-service"]["deploy"]["replicas"] == 2


def test_kafka_runs_in_kraft_mode(compose: Any) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_CONTROLLER_QUORUM_VOTERS" in env
    assert not any("ZOOKEEPER" in name for name in env)
    assert "zookeeper" not in compose["services"]


def test_the_service_starts_after_its_migration(compose: Any) -> None:
    services = compose["services"]
    depends = services["payment-service"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["kafka"]["condition"] == "service_healthy"
    assert "payment-service migrate" in services["migrate"]["command"][0]


def test_variables_are_settings_and_secrets_are_files(compose: Any) -> None:
    services = compose["services"]
    env = services["payment-service"]["environment"]
    # OTEL_* are OpenTelemetry's own variables, read by its SDK.
    unknown = {name for name in env if not name.startswith("OTEL_")} - setting_names()
    assert not unknown
    secrets = set(compose["secrets"])
    for name, value in env.items():
        if name.endswith("_FILE"):
            path = Path(value)
            assert path.parent == Path("/run/secrets") and path.name in secrets, name
            assert path.name in services["payment-service"]["secrets"], name
        assert "PASSWORD" not in name or name.endswith("_FILE"), f"{name}: a secret inline"
    for secret in compose["secrets"].values():
        assert (DEPLOY / secret["file"]).is_file()


def test_prometheus_scrapes_the_ops_port(compose: Any) -> None:
    env = compose["services"]["payment-service"]["environment"]
    mounts = compose["services"]["prometheus"]["volumes"]
    config_file = next(m.split(":")[0] for m in mounts if "prometheus.yml" in m)
    config = load(DEPLOY / config_file)
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["payment-service"]
    assert discovery["port"] == int(env["OPS_PORT"])
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source
