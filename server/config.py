"""Configuration from environment variables (names from the specification), checked at start.

`Settings` is the sum of its parts, each in a module of its own that owns its variables, their
parsing and its `problems()` (what is wrong with them) - and, where PCI DSS has a say, its
`pci_problems()`: database, Redis, Kafka, Stripe, PayPal, gateways, fraud, FX, auth,
encryption, transport, retention, workers, the ops port. What is left here belongs to the
service as a whole (environment, ports, idempotency, the outbox, rate limits, shutdown), and
so do the checks that span parts. The variables are read flat (settings.db_pool_size), as
they always were: a part adds no prefix and renames nothing.

A new part (tracing, ...): a SettingsPart (server/settings_part.py) with its `problems()`,
added to Settings' bases (PARTS follows them); to PCI_PARTS too if PCI DSS has a say."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from server.auth_settings import AuthSettings
from server.database_config import DatabaseSettings
from server.encryption_config import EncryptionSettings
from server.fraud_config import FraudSettings
from server.fx_config import FxSettings
from server.gateway_config import GatewaySettings
from server.kafka_config import KafkaSettings
from server.ops_config import OpsSettings
from server.paypal_config import PayPalSettings
from server.redis_config import RedisSettings
from server.retention_config import RetentionSettings
from server.stripe_config import StripeSettings
from server.tracing_config import TracingSettings
from server.transport_config import TransportSettings
from server.workers_config import WorkerSettings

Port = Annotated[int, Field(ge=0, le=65535)]


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


class Settings(
    DatabaseSettings,
    RedisSettings,
    KafkaSettings,
    StripeSettings,
    PayPalSettings,
    GatewaySettings,
    FraudSettings,
    FxSettings,
    AuthSettings,
    EncryptionSettings,
    TransportSettings,
    RetentionSettings,
    WorkerSettings,
    OpsSettings,
    TracingSettings,
):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    app_env: AppEnv = AppEnv.DEVELOPMENT
    app_port: Port = 8080
    grpc_port: Port = 9090
    grpc_host: str = "0.0.0.0"  # noqa: S104 - a container's service listens on all interfaces
    log_level: str = "info"
    # Where `payment-service run` keeps the embedded PostgreSQL, Redis and development key.
    embedded_data_dir: Path = Path(".data")

    # Idempotency keys (request_id): how long completed answers are replayed, and how long a
    # request that is still running (or whose process died) holds its key.
    idempotency_retention_hours: Annotated[float, Field(gt=0)] = 24.0
    idempotency_lease_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    idempotency_purge_interval_seconds: Annotated[float, Field(gt=0)] = 600.0

    # The outbox relay: how often it looks for unpublished events when idle, and how long
    # published rows are kept before they are purged.
    outbox_poll_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 0.5
    outbox_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 200
    outbox_retention_hours: Annotated[float, Field(gt=0)] = 72.0
    # The analytics projector (infra/db/analytics_projector.py): how often it looks for
    # events it has not counted when idle, and how many it counts per transaction.
    analytics_poll_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    analytics_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    # The order events consumer (runs with the relay when KAFKA_BROKERS is set): capture the
    # payment of an order.confirmed right after authorizing it.
    auto_capture: bool = False

    # Rate limiting per caller (the authenticated subject, else the client address): a token
    # bucket in Redis refilled at RATE_LIMIT_REQUESTS_PER_SECOND, holding at most
    # RATE_LIMIT_BURST. Health checks are exempt; without Redis (or while it is down) no limit.
    rate_limit_enabled: bool = True
    rate_limit_requests_per_second: Annotated[float, Field(gt=0, le=1_000_000)] = 100.0
    rate_limit_burst: Annotated[int, Field(ge=1, le=1_000_000)] = 200

    shutdown_grace_seconds: Annotated[float, Field(ge=0, le=300)] = 20.0
    health_check_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0

    # The audit chain's linker (README "Audit trail"): every worker of every replica runs one,
    # the holder of the lease links. Each run links what has committed since the last one, in
    # batches of AUDIT_LINK_BATCH_SIZE; a holder that stops renewing (dead) is replaced once
    # its lease of AUDIT_LINK_LEASE_SECONDS ends.
    audit_link_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 0.5
    audit_link_lease_seconds: Annotated[float, Field(gt=0, le=600)] = 5.0
    audit_link_batch_size: Annotated[int, Field(ge=1, le=100_000)] = 2000

    # PCI DSS posture (README "Security"): refuse to start with plaintext listeners or
    # connections, development keys, authentication off or encryption keys missing.
    pci_compliance_mode: bool = False
    # gRPC server reflection (grpcurl list/describe); switch it off in production.
    grpc_reflection_enabled: bool = True

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error", "critical"}:
            raise ValueError("must be one of debug, info, warning, error, critical")
        return value.lower()

    def problems(self) -> list[str]:
        """What is wrong with these settings, one sentence per problem naming the variable:
        each part's, then those spanning parts."""
        found = [problem for part in PARTS for problem in part.problems(self)]
        return found + self._whole_problems()

    def _whole_problems(self) -> list[str]:
        problems = []
        # A lease shorter than two runs would pass from linker to linker while its holder lives.
        if self.audit_link_lease_seconds < 2 * self.audit_link_interval_seconds:
            problems.append(
                "AUDIT_LINK_LEASE_SECONDS must be at least twice AUDIT_LINK_INTERVAL_SECONDS"
            )
        development = self.app_env is AppEnv.DEVELOPMENT
        if not self.auth_enabled and not development:
            problems.append("AUTH_ENABLED=false is only allowed when APP_ENV=development")
        if self.jwt_hs256_secret is not None and not development:
            problems.append("JWT_HS256_SECRET is only allowed when APP_ENV=development")
        if self.mtls_client_scopes and self.tls_client_ca_file is None:
            problems.append("MTLS_CLIENT_SCOPES needs TLS_CLIENT_CA_FILE")
        return problems

    def pci_problems(self) -> list[str]:
        """Why these settings must not run in PCI compliance mode, one line per setting at
        fault: the parts' (transport, Redis, Kafka, auth, encryption), then the service's."""
        if not self.pci_compliance_mode:
            return []
        found = [problem for part in PCI_PARTS for problem in part.pci_problems(self)]
        if self.grpc_reflection_enabled:
            # PCI DSS 2.2.4: only the functions the service needs; reflection is a debugging aid.
            found.append("GRPC_REFLECTION_ENABLED is true: switch server reflection off")
        if self.app_env is AppEnv.DEVELOPMENT:
            found.append("APP_ENV=development: development keys and settings are allowed")
        return found

    @classmethod
    def variables(cls) -> frozenset[str]:
        """Every environment variable the service reads, upper case."""
        return frozenset((field.alias or name).upper() for name, field in cls.model_fields.items())

    def missing_auth_keys(self) -> str | None:
        """Why the service cannot authenticate anyone, if it cannot: checked by `serve` and
        `check-config` (not by `migrate`, which needs no keys)."""
        development = self.app_env is AppEnv.DEVELOPMENT
        if self.auth_enabled and not development and not self.jwks_configured:
            return f"JWT_JWKS_FILE or JWT_JWKS_URL is required when APP_ENV={self.app_env.value}"
        return None

    @property
    def uses_development_key(self) -> bool:
        """Tokens are checked against the key made in EMBEDDED_DATA_DIR."""
        return self.auth_enabled and self.app_env is AppEnv.DEVELOPMENT and not self.jwks_configured


# The parts, each asked for its problems() (a base without one, a plain BaseSettings, has
# nothing to say); PCI_PARTS are asked for their pci_problems() too.
PARTS: tuple[Any, ...] = tuple(base for base in Settings.__bases__ if hasattr(base, "problems"))
PCI_PARTS: tuple[Any, ...] = (
    TransportSettings,
    RedisSettings,
    KafkaSettings,
    AuthSettings,
    EncryptionSettings,
)
