"""Settings as the sum of its parts (server/config.py): each part parses its own variables
and names its own problems, alone or inside Settings; Settings reports every problem at once
and adds those spanning parts; the PCI check sums the parts' PCI problems; the variable
names stay those documented; unknown variables with the service's prefixes are warned about
by name only."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from server.cli import main
from server.config import PARTS, PCI_PARTS, AppEnv, Settings
from server.gateway_config import GatewaySettings
from server.kafka_config import KafkaSettings
from server.redis_config import RedisSettings
from server.unknown_settings import service_prefixes, unknown_variables


def test_every_variable_belongs_to_exactly_one_part_or_to_the_whole() -> None:
    owners: dict[str, list[str]] = {}
    for part in PARTS:
        for name in part.model_fields:
            owners.setdefault(name, []).append(part.__name__)
    assert all(len(parts) == 1 for parts in owners.values()), owners
    assert set(owners) <= set(Settings.model_fields)
    assert len(PARTS) >= 12


def test_the_documented_names_are_unchanged() -> None:
    variables = Settings.variables()
    assert {
        "DATABASE_URL", "DB_HOST", "DB_PASSWORD_FILE", "DB_POOL_SIZE", "REDIS_URL",
        "REDIS_SSL", "KAFKA_BROKERS", "KAFKA_SECURITY_PROTOCOL", "STRIPE_API_KEY",
        "PAYPAL_CLIENT_SECRET_FILE", "FRAUD_SCORER_URL", "JWT_JWKS_URL", "TLS_CERT_FILE",
        "WEBHOOK_PAYLOAD_RETENTION_DAYS", "ENCRYPTION_KEY", "GATEWAY_ROUTES",
        "SETTLEMENT_CURRENCY", "OPS_PORT", "SERVER_WORKERS", "APP_ENV", "METRICS_REFRESH_SECONDS",
    } <= variables  # fmt: skip


def test_a_part_refuses_its_own_problems_alone() -> None:
    with pytest.raises(ValidationError, match="GATEWAY_TIMEOUT_SECONDS"):
        GatewaySettings(reconcile_after_seconds=10, gateway_timeout_seconds=30)
    assert RedisSettings(redis_host="cache").problems() == []


def test_settings_name_every_problem_at_once() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(
            reconcile_after_seconds=10,
            kafka_topic_order_confirmed="order.events",
            fraud_blocked_bins="12",
            app_env=AppEnv.PRODUCTION,
            auth_enabled=False,
        )
    message = str(refused.value)
    for named in (
        "RECONCILE_AFTER_SECONDS",
        "KAFKA_TOPIC_ORDER_EVENTS",
        "FRAUD_BLOCKED_BINS",
        "AUTH_ENABLED=false is only allowed when APP_ENV=development",  # spans two parts
    ):
        assert named in message


def test_the_pci_check_sums_the_parts() -> None:
    settings = Settings(
        pci_compliance_mode=True,
        kafka_brokers="k:9092",
        redis_host="cache",
        auth_enabled=False,
    )
    problems = settings.pci_problems()
    for part in PCI_PARTS:
        assert set(part.pci_problems(settings)) <= set(problems), part.__name__
    assert any("KAFKA_SECURITY_PROTOCOL" in p for p in KafkaSettings.pci_problems(settings))
    assert any("REDIS_URL" in p for p in RedisSettings.pci_problems(settings))
    assert any("GRPC_REFLECTION_ENABLED" in p for p in problems)  # the service's own
    assert Settings(kafka_brokers="k:9092").pci_problems() == []  # the mode is off


def test_the_service_prefixes_come_from_its_settings() -> None:
    prefixes = service_prefixes(Settings.variables())
    assert {"DB_", "REDIS_", "KAFKA_", "STRIPE_", "PAYPAL_", "FRAUD_", "JWT_", "TLS_"} <= prefixes
    assert "GRPC_" not in prefixes  # the gRPC library reads GRPC_VERBOSITY, GRPC_TRACE ...
    assert "LOG_" not in prefixes  # one variable: too general a word to claim
    environ = {
        "STRIPE_API_KEYS": "sk_live_secret",
        "DB_PASWORD": "hunter2",
        "DB_HOST": "db",
        "GRPC_VERBOSITY": "debug",
        "HOME": "/root",
    }
    assert unknown_variables(environ, Settings.variables()) == ["DB_PASWORD", "STRIPE_API_KEYS"]


def test_unknown_variables_are_warned_by_name_never_by_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_API_KEYS", "sk_live_do_not_print")
    monkeypatch.setenv("KAFKA_BROKER", "kafka:9092")
    main(["check-config"])  # logs JSON lines to stderr (server/logs.py)
    logged = capsys.readouterr().err
    assert "sk_live_do_not_print" not in logged and "kafka:9092" not in logged
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    warned = [line["message"] for line in lines if line["logger"] == "payments.config"]
    assert len([m for m in warned if m.startswith("STRIPE_API_KEYS ")]) == 1
    assert len([m for m in warned if m.startswith("KAFKA_BROKER ")]) == 1
