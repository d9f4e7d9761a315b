"""PCI_COMPLIANCE_MODE: the service refuses to start with plaintext listeners or connections,
development keys, authentication off or encryption keys missing, and names each setting;
settings fit for production start. The command line is run as an operator would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.app import PaymentApplication
from server.config import Settings
from server.pci import PciComplianceError, pci_problems, require_pci_compliance
from tests.support.auth import auth_settings
from tests.support.certificates import Pki, make_pki
from tests.support.encryption import TEST_BLIND_INDEX_KEY, TEST_KEY_RING

PAYMENT_SERVICE = str(Path(sys.executable).parent / "payment-service")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def compliant(pki: Pki) -> dict[str, Any]:
    """Settings a PCI deployment runs with (the endpoints need not exist: nothing connects)."""
    return {
        "pci_compliance_mode": True,
        "app_env": "production",
        "tls_cert_file": pki.server.cert,
        "tls_key_file": pki.server.key,
        "database_url": "postgresql://payments@db.internal:5432/payments",
        "db_sslmode": "verify-full",
        "db_sslrootcert": pki.ca.cert,
        "redis_url": "rediss://cache.internal:6380/0",
        "redis_ssl_ca_file": pki.ca.cert,
        "kafka_brokers": "kafka.internal:9093",
        "kafka_security_protocol": "SSL",
        "kafka_ssl_cafile": pki.ca.cert,
        "encryption_key": TEST_KEY_RING,
        "blind_index_key": TEST_BLIND_INDEX_KEY,
        "grpc_reflection_enabled": False,
        **auth_settings(),
    }


def as_env(values: dict[str, Any]) -> dict[str, str]:
    return {name.upper(): str(value) for name, value in values.items()}


def test_settings_fit_for_production_have_no_problem(pki: Pki) -> None:
    settings = Settings(**as_env(compliant(pki)))  # type: ignore[arg-type]
    assert pci_problems(settings) == []
    require_pci_compliance(settings)  # does not raise


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"tls_cert_file": None, "tls_key_file": None}, "TLS_CERT_FILE"),
        ({"db_sslmode": "require"}, "DB_SSLMODE"),
        ({"redis_url": "redis://cache.internal:6379/0"}, "REDIS_URL"),
        ({"kafka_security_protocol": "PLAINTEXT"}, "KAFKA_SECURITY_PROTOCOL"),
        ({"jwt_jwks_file": None}, "JWT_JWKS_FILE"),
        ({"encryption_key": None}, "ENCRYPTION_KEY"),
        ({"blind_index_key": None}, "BLIND_INDEX_KEY"),
        ({"grpc_reflection_enabled": True}, "GRPC_REFLECTION_ENABLED"),
        ({"app_env": "development"}, "APP_ENV=development"),
    ],
)
def test_each_unfit_setting_is_named(pki: Pki, change: dict[str, Any], named: str) -> None:
    values = {k: v for k, v in (compliant(pki) | change).items() if v is not None}
    problems = pci_problems(Settings(**as_env(values)))  # type: ignore[arg-type]
    assert problems and any(named in problem for problem in problems), problems


def test_the_mode_off_checks_nothing(pki: Pki) -> None:
    values = compliant(pki) | {"pci_compliance_mode": False, "db_sslmode": "disable"}
    assert pci_problems(Settings(**as_env(values))) == []  # type: ignore[arg-type]


async def test_the_application_refuses_to_start(pki: Pki) -> None:
    values = {k: v for k, v in compliant(pki).items() if k not in ("tls_cert_file", "tls_key_file")}
    settings = Settings(**as_env(values))  # type: ignore[arg-type]
    app = PaymentApplication(settings, "postgresql+asyncpg://payments@db.internal/payments")
    with pytest.raises(PciComplianceError, match="TLS_CERT_FILE"):
        await app.start()
    assert app.server is None  # nothing listened


def test_check_config_names_every_setting_at_fault() -> None:
    """A development set-up with the mode switched on: every problem, one line each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "ENCRYPTION_"))}
    done = subprocess.run(
        [PAYMENT_SERVICE, "check-config"],
        env=env | {"PCI_COMPLIANCE_MODE": "true", "APP_ENV": "development", "LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "PCI_COMPLIANCE_MODE=true refuses to start" in done.stderr
    for named in ("TLS_CERT_FILE", "DB_SSLMODE", "JWT_JWKS_FILE", "ENCRYPTION_KEY", "APP_ENV"):
        assert named in done.stderr
    assert "configuration is valid" not in done.stdout
