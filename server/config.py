"""Configuration from environment variables (names from the specification), checked at start."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from domain.enums import GatewayName
from domain.fx import MAX_MARKUP_BPS, FxPolicy
from domain.risk_rules import RiskPolicy
from domain.routing import RoutingTable
from infra.crypto.keyring import KeyRing, KeyRingError, decode_key, parse_key_ring
from infra.currency import iso_exponent
from infra.fx.ecb import ECB_DAILY_URL
from infra.webhooks.paypal_certificates import DEFAULT_CERT_NAMES
from server.fraud_config import FailMode, risk_policy
from server.kafka_config import KafkaSettings
from server.ops_config import OpsSettings
from server.routing_config import load_routes
from server.transport_config import TransportSettings
from server.workers_config import WorkerSettings

Port = Annotated[int, Field(ge=0, le=65535)]
_SSL_QUERY = re.compile(r"[?&](?:ssl|sslmode|sslrootcert|sslcert|sslkey)=", re.IGNORECASE)


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


# Inherited: TLS_*, DB_SSL*, ... (transport); SERVER_WORKERS, ... (workers); KAFKA_* (Kafka);
# OPS_* (the ops port).
class Settings(TransportSettings, WorkerSettings, KafkaSettings, OpsSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    app_env: AppEnv = AppEnv.DEVELOPMENT
    app_port: Port = 8080
    grpc_port: Port = 9090
    grpc_host: str = "0.0.0.0"  # noqa: S104 - a container's service listens on all interfaces
    log_level: str = "info"

    database_url_: SecretStr | None = Field(default=None, alias="DATABASE_URL")
    db_host: str | None = None
    db_port: Port = 5432
    db_name: str = "payment_service"
    db_user: str = "payment_service"
    db_password: SecretStr = SecretStr("")
    db_password_file: Path | None = None
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 20
    # Where `payment-service run` keeps the embedded PostgreSQL when no database is set.
    embedded_data_dir: Path = Path(".data")

    # Redis is a cache only (PostgreSQL is the source of truth): the service stays correct
    # without it. REDIS_URL (redis://, rediss:// or unix://) takes precedence over REDIS_HOST.
    redis_url_: SecretStr | None = Field(default=None, alias="REDIS_URL")
    redis_host: str | None = None
    redis_port: Port = 6379
    redis_db: Annotated[int, Field(ge=0)] = 0
    redis_password: SecretStr = SecretStr("")
    redis_password_file: Path | None = None
    # Every key the service writes starts with this, so deployments and tests can share a server.
    redis_key_prefix: Annotated[str, Field(min_length=1)] = "payments:"

    # Idempotency keys (request_id): how long completed answers are replayed, and how long a
    # request that is still running (or whose process died) holds its key.
    idempotency_retention_hours: Annotated[float, Field(gt=0)] = 24.0
    idempotency_lease_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    idempotency_purge_interval_seconds: Annotated[float, Field(gt=0)] = 600.0

    # Circuit breaker per gateway: this many failures within the window open it for a while.
    circuit_failure_threshold: Annotated[int, Field(ge=1)] = 5
    circuit_window_seconds: Annotated[float, Field(gt=0)] = 30.0
    circuit_open_seconds: Annotated[float, Field(gt=0)] = 30.0

    # Automatic retries of soft failures (unreachable gateway, processing errors), with
    # exponential backoff and jitter, from a schedule kept in PostgreSQL. 0 disables them.
    retry_max_attempts: Annotated[int, Field(ge=0, le=20)] = 3
    retry_base_seconds: Annotated[float, Field(gt=0)] = 2.0
    retry_max_delay_seconds: Annotated[float, Field(gt=0)] = 300.0
    retry_poll_interval_seconds: Annotated[float, Field(gt=0)] = 1.0

    # A gateway call that takes longer has an unknown outcome; the reconciler settles it.
    gateway_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0
    # Open gateway operations older than this are settled by asking the gateway.
    reconcile_after_seconds: Annotated[float, Field(gt=0)] = 60.0
    reconcile_interval_seconds: Annotated[float, Field(gt=0)] = 30.0

    # Stripe is enabled when STRIPE_API_KEY (or STRIPE_API_KEY_FILE) is set.
    stripe_api_key: SecretStr | None = None
    stripe_api_key_file: Path | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: SecretStr | None = None
    stripe_webhook_secret_file: Path | None = None
    stripe_publishable_key: str | None = None
    # STRIPE_WEBHOOK_SECRET may list several secrets, comma-separated (rotation).
    stripe_webhook_tolerance_seconds: Annotated[int, Field(ge=1, le=3600)] = 300
    # Our page running Stripe.js for 3-D Secure when Stripe gives no redirect URL.
    stripe_next_action_url: str = "https://checkout.invalid/stripe/next-action"

    # PayPal is enabled when PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET (or _FILE) are set.
    paypal_client_id: str | None = None
    paypal_client_secret: SecretStr | None = None
    paypal_client_secret_file: Path | None = None
    paypal_mode: Literal["sandbox", "live"] = "sandbox"
    paypal_api_base: str | None = None
    # Webhooks: the id PayPal gave our webhook; verified here (`local`, with the certificate
    # from PAYPAL-CERT-URL) or by PayPal's verify-webhook-signature API (`api`).
    paypal_webhook_id: str | None = None
    paypal_webhook_verification: Literal["local", "api"] = "local"
    # Hosts certificates may come from, comma-separated; ".paypal.com" allows its subdomains.
    paypal_cert_hosts: str = ".paypal.com"
    # Local verification trusts a certificate only through its chain to a CA of this PEM
    # bundle (default: certifi's), issued to one of these names (comma-separated).
    paypal_cert_ca_bundle: Path | None = None
    paypal_cert_names: str = ",".join(DEFAULT_CERT_NAMES)

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

    default_gateway: GatewayName = GatewayName.SIMULATOR
    # The routing table as JSON, or a file holding it (see server/routing_config.py);
    # neither: every payment goes to DEFAULT_GATEWAY.
    gateway_routes: str | None = None
    gateway_routes_file: Path | None = None
    # Development aid: how long each simulator gateway call takes.
    simulator_latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    # Where the simulator keeps its ledger: `memory`, or `database` (its own schema, so that
    # what it "charged" survives a crash of this process, as a real gateway's records would).
    simulator_ledger: Literal["memory", "database"] = "memory"
    # Rate limiting per caller (the authenticated subject, else the client address): a token
    # bucket in Redis refilled at RATE_LIMIT_REQUESTS_PER_SECOND, holding at most
    # RATE_LIMIT_BURST. Health checks are exempt; without Redis (or while it is down) no limit.
    rate_limit_enabled: bool = True
    rate_limit_requests_per_second: Annotated[float, Field(gt=0, le=1_000_000)] = 100.0
    rate_limit_burst: Annotated[int, Field(ge=1, le=1_000_000)] = 200

    # Fraud checks before every authorization (README "Fraud checks"). Limits are off until
    # set. Amount limits: CURRENCY:MINOR_UNITS pairs, comma-separated ("EUR:500000").
    fraud_checks_enabled: bool = True
    fraud_review_amount_limits: str = ""
    fraud_block_amount_limits: str = ""
    fraud_blocked_countries: str = ""  # ISO 3166-1 alpha-2, comma-separated
    fraud_blocked_bins: str = ""  # BIN prefixes (4-8 digits), comma-separated
    # Velocity (Redis): at most this many distinct payments per user / per card in the window.
    fraud_velocity_window_seconds: Annotated[float, Field(gt=0, le=30 * 86400)] = 3600.0
    fraud_velocity_max_per_user: Annotated[int, Field(ge=0)] = 0
    fraud_velocity_max_per_card: Annotated[int, Field(ge=0)] = 0
    fraud_velocity_action: Literal["block", "review"] = "block"
    # Redis unreachable: skip the velocity rules (open), hold for review, or block (closed).
    fraud_velocity_fail_mode: FailMode = "open"
    # Optional external scorer: POST JSON, answers {"score": 0-100}.
    fraud_scorer_url: str | None = None
    fraud_scorer_api_key: SecretStr | None = None
    fraud_scorer_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 2.0
    fraud_scorer_fail_mode: FailMode = "open"
    fraud_scorer_review_score: Annotated[int, Field(ge=0, le=100)] = 60
    fraud_scorer_block_score: Annotated[int, Field(ge=0, le=100)] = 85

    # Currencies and FX (README "Currencies and FX"). The ECB euro reference rates are fetched
    # from FX_ECB_URL every FX_REFRESH_INTERVAL_SECONDS by one process (the background lease);
    # an empty FX_ECB_URL fetches nothing (rates set by administrators only).
    fx_ecb_url: str = ECB_DAILY_URL
    fx_refresh_interval_seconds: Annotated[float, Field(gt=0)] = 3600.0
    # A rate valid longer ago than this many seconds is not used (FX_RATE_UNAVAILABLE). The
    # ECB publishes on working days: four days cover a weekend and a holiday.
    fx_max_rate_age: Annotated[int, Field(gt=0)] = 4 * 86400
    # How long a quote's rate stays locked.
    fx_quote_ttl_seconds: Annotated[int, Field(gt=0, le=86400)] = 600
    # Basis points taken off the mid rate of every quote (100 bps = 1 %).
    fx_markup_bps: Annotated[int, Field(ge=0, le=MAX_MARKUP_BPS)] = 0
    # The merchant's currency: payments settle in it (converted at the current rate, or a
    # quote's), unless CreatePayment says otherwise. Empty: each in its presentment currency.
    settlement_currency: str = ""

    shutdown_grace_seconds: Annotated[float, Field(ge=0, le=300)] = 20.0
    health_check_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0

    # Encryption at rest (README "Encryption at rest"): the key ring - `id:base64key` entries
    # separated by commas or newlines, the first one active - inline or in a file; and the
    # blind index key (32 bytes, base64), which must differ from every encryption key.
    # Neither set: a development key ring when APP_ENV is development or test; staging and
    # production refuse to start (server/encryption.py).
    encryption_key: SecretStr | None = None
    encryption_key_file: Path | None = None
    blind_index_key: SecretStr | None = None
    blind_index_key_file: Path | None = None

    # Retention (README "Data retention"), enforced by a job in every replica and by
    # `payment-service retention run`. Idempotency keys follow IDEMPOTENCY_RETENTION_HOURS.
    webhook_payload_retention_days: Annotated[float, Field(gt=0)] = 90.0
    personal_data_retention_days: Annotated[float, Field(gt=0)] = 2557.0  # 7 years
    # PCI DSS 10.5.1: audit history is kept at least 12 months. Never deleted by this
    # service's retention job; the audit log's own tooling honours it.
    audit_retention_days: Annotated[int, Field(ge=365)] = 365
    retention_interval_seconds: Annotated[float, Field(gt=0)] = 3600.0
    retention_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500

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

    # Authentication (see the README): bearer JWTs signed by an issuer whose public keys come
    # from a JWKS file or URL. In development without either, a key made in
    # EMBEDDED_DATA_DIR signs the tokens that `payment-service mint-token` prints.
    auth_enabled: bool = True  # false only in development: every caller is anonymous
    jwt_issuer: Annotated[str, Field(min_length=1)] = "payment-service"
    jwt_audience: Annotated[str, Field(min_length=1)] = "payment-service"
    jwt_jwks_file: Path | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_cache_seconds: Annotated[float, Field(gt=0, le=86_400)] = 300.0
    # Clock skew tolerated on exp / nbf / iat.
    jwt_leeway_seconds: Annotated[float, Field(ge=0, le=300)] = 30.0
    # Development only: also accept HS256 tokens signed with this shared secret.
    jwt_hs256_secret: SecretStr | None = None
    # Mutual TLS for services: client certificate common names and their scopes, e.g.
    # "orders-service=payments:read payments:write,ledger=payments:read". A call with no bearer
    # token and a verified certificate (TLS_CLIENT_CA_FILE) of a listed name acts as it.
    mtls_client_scopes: str = ""
    # gRPC server reflection (grpcurl list/describe); switch it off in production.
    grpc_reflection_enabled: bool = True

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error", "critical"}:
            raise ValueError("must be one of debug, info, warning, error, critical")
        return value.lower()

    @field_validator("default_gateway", mode="before")
    @classmethod
    def _gateway_upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _reconcile_after_calls_end(self) -> Settings:
        # An operation younger than the gateway timeout may still be in flight: settling it
        # as "never reached the gateway" could contradict what the gateway is about to do.
        if self.reconcile_after_seconds <= self.gateway_timeout_seconds:
            raise ValueError("RECONCILE_AFTER_SECONDS must be greater than GATEWAY_TIMEOUT_SECONDS")
        return self

    @model_validator(mode="after")
    def _audit_lease_outlives_runs(self) -> Settings:
        # A lease shorter than two runs would pass from linker to linker while its holder lives.
        if self.audit_link_lease_seconds < 2 * self.audit_link_interval_seconds:
            raise ValueError(
                "AUDIT_LINK_LEASE_SECONDS must be at least twice AUDIT_LINK_INTERVAL_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _routes_parse(self) -> Settings:
        try:
            self.routing_table()
        except (ValueError, OSError) as exc:
            raise ValueError(f"GATEWAY_ROUTES: {exc}") from None
        return self

    @model_validator(mode="after")
    def _fraud_policy_parses(self) -> Settings:
        self.risk_policy()  # a ValueError names the setting
        if self.fx_ecb_url and not self.fx_ecb_url.startswith(("http://", "https://")):
            raise ValueError("FX_ECB_URL must be an http:// or https:// URL (or empty)")
        if self.settlement_currency and iso_exponent(self.settlement_currency) is None:
            raise ValueError(
                "SETTLEMENT_CURRENCY must be an ISO 4217 code of a currency in use (or empty)"
            )
        if self.fraud_scorer_url and not self.fraud_scorer_url.startswith(("http://", "https://")):
            raise ValueError("FRAUD_SCORER_URL must be an http:// or https:// URL")
        return self

    def risk_policy(self) -> RiskPolicy:
        return risk_policy(self)

    def routing_table(self) -> RoutingTable:
        return load_routes(self.gateway_routes, self.gateway_routes_file, self.default_gateway)

    @staticmethod
    def _secret(value: SecretStr | None, file: Path | None, name: str) -> SecretStr | None:
        """A secret from its variable, or from the file its _FILE variable names (Docker and
        Kubernetes secrets); never both."""
        if value is not None and file is not None:
            raise ValueError(f"set {name} or {name}_FILE, not both")
        if file is not None:
            return SecretStr(file.read_text().strip())
        return value

    def _password(self, value: SecretStr, file: Path | None, name: str) -> str:
        """DB_PASSWORD / REDIS_PASSWORD, or the file their _FILE variable names."""
        given = value if value.get_secret_value() else None
        secret = self._secret(given, file, name)
        return "" if secret is None else secret.get_secret_value()

    def stripe_key(self) -> SecretStr | None:
        return self._secret(self.stripe_api_key, self.stripe_api_key_file, "STRIPE_API_KEY")

    def stripe_webhook_key(self) -> SecretStr | None:
        return self._secret(
            self.stripe_webhook_secret, self.stripe_webhook_secret_file, "STRIPE_WEBHOOK_SECRET"
        )

    def stripe_webhook_secrets(self) -> list[str]:
        key = self.stripe_webhook_key()
        value = key.get_secret_value() if key is not None else ""
        return [part.strip() for part in value.split(",") if part.strip()]

    def paypal_cert_host_list(self) -> list[str]:
        return [part.strip() for part in self.paypal_cert_hosts.split(",") if part.strip()]

    def paypal_cert_name_list(self) -> list[str]:
        return [part.strip() for part in self.paypal_cert_names.split(",") if part.strip()]

    def paypal_secret(self) -> SecretStr | None:
        return self._secret(
            self.paypal_client_secret, self.paypal_client_secret_file, "PAYPAL_CLIENT_SECRET"
        )

    @model_validator(mode="after")
    def _secrets_readable(self) -> Settings:
        try:
            self.stripe_key()
            self.stripe_webhook_key()
            self._password(self.db_password, self.db_password_file, "DB_PASSWORD")
            self._password(self.redis_password, self.redis_password_file, "REDIS_PASSWORD")
            secret = self.paypal_secret()
        except OSError as exc:
            raise ValueError(f"cannot read a secret file: {exc.strerror}") from None
        if (self.paypal_client_id is None) != (secret is None):
            raise ValueError("PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET go together")
        bundle = self.paypal_cert_ca_bundle
        if bundle is not None and not bundle.is_file():
            # Refused at start, not at the first webhook: a typo would reject every one.
            raise ValueError("PAYPAL_CERT_CA_BUNDLE is not a readable file")
        return self

    def encryption_key_ring(self) -> KeyRing | None:
        """The configured key ring; None when neither ENCRYPTION_KEY nor _FILE is set."""
        text = self._secret(self.encryption_key, self.encryption_key_file, "ENCRYPTION_KEY")
        return None if text is None else parse_key_ring(text.get_secret_value())

    def blind_index_secret(self) -> bytes | None:
        text = self._secret(self.blind_index_key, self.blind_index_key_file, "BLIND_INDEX_KEY")
        return None if text is None else decode_key(text.get_secret_value(), "BLIND_INDEX_KEY")

    @model_validator(mode="after")
    def _encryption_keys_parse(self) -> Settings:
        try:
            ring = self.encryption_key_ring()
        except (KeyRingError, OSError) as exc:
            raise ValueError(f"ENCRYPTION_KEY: {_reason(exc)}") from None
        try:
            index_key = self.blind_index_secret()
        except (KeyRingError, OSError) as exc:
            raise ValueError(f"BLIND_INDEX_KEY: {_reason(exc)}") from None
        if ring is not None and index_key is not None and index_key in ring.keys.values():
            raise ValueError("BLIND_INDEX_KEY must differ from every encryption key")
        return self

    @model_validator(mode="after")
    def _auth_consistent(self) -> Settings:
        development = self.app_env is AppEnv.DEVELOPMENT
        if not self.auth_enabled and not development:
            raise ValueError("AUTH_ENABLED=false is only allowed when APP_ENV=development")
        if self.jwt_hs256_secret is not None:
            if not development:
                raise ValueError("JWT_HS256_SECRET is only allowed when APP_ENV=development")
            if len(self.jwt_hs256_secret.get_secret_value().encode()) < 32:
                raise ValueError("JWT_HS256_SECRET must be at least 32 bytes long")
        for name, scopes in self.certificate_scopes().items():
            if not name or not scopes:
                raise ValueError("MTLS_CLIENT_SCOPES entries are NAME=scope [scope ...]")
        if self.mtls_client_scopes and self.tls_client_ca_file is None:
            raise ValueError("MTLS_CLIENT_SCOPES needs TLS_CLIENT_CA_FILE")
        if self.jwt_jwks_file is not None and self.jwt_jwks_url is not None:
            raise ValueError("set JWT_JWKS_FILE or JWT_JWKS_URL, not both")
        if self.jwt_jwks_url is not None and not _trusted_jwks_url(self.jwt_jwks_url):
            raise ValueError("JWT_JWKS_URL must be an https:// URL (http:// only to localhost)")
        return self

    def missing_auth_keys(self) -> str | None:
        """Why the service cannot authenticate anyone, if it cannot: checked by `serve` and
        `check-config` (not by `migrate`, which needs no keys)."""
        development = self.app_env is AppEnv.DEVELOPMENT
        if self.auth_enabled and not development and not self.jwks_configured:
            return f"JWT_JWKS_FILE or JWT_JWKS_URL is required when APP_ENV={self.app_env.value}"
        return None

    def certificate_scopes(self) -> dict[str, frozenset[str]]:
        """MTLS_CLIENT_SCOPES parsed: common name -> scopes."""
        parsed: dict[str, frozenset[str]] = {}
        for entry in filter(None, (e.strip() for e in self.mtls_client_scopes.split(","))):
            name, _, scopes = entry.partition("=")
            parsed[name.strip()] = frozenset(scopes.split())
        return parsed

    @property
    def jwks_configured(self) -> bool:
        return self.jwt_jwks_file is not None or self.jwt_jwks_url is not None

    @property
    def uses_development_key(self) -> bool:
        """Tokens are checked against the key made in EMBEDDED_DATA_DIR."""
        return self.auth_enabled and self.app_env is AppEnv.DEVELOPMENT and not self.jwks_configured

    @property
    def database_configured(self) -> bool:
        return self.database_url_ is not None or self.db_host is not None

    def database_url(self) -> str:
        """SQLAlchemy URL with the asyncpg driver."""
        if self.database_url_ is not None:
            url = self.database_url_.get_secret_value()
            if _SSL_QUERY.search(url):  # SQLAlchemy would hand them to asyncpg, which refuses
                raise ValueError(
                    "DATABASE_URL: give TLS settings as DB_SSLMODE, DB_SSLROOTCERT, DB_SSLCERT "
                    "and DB_SSLKEY, not in the URL"
                )
            for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
                if url.startswith(prefix):
                    return "postgresql+asyncpg://" + url[len(prefix) :]
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        if self.db_host is None:
            raise ValueError("no database configured: set DATABASE_URL or DB_HOST")
        password = self._password(self.db_password, self.db_password_file, "DB_PASSWORD")
        credentials = quote(self.db_user, safe="") + (
            ":" + quote(password, safe="") if password else ""
        )
        return (
            f"postgresql+asyncpg://{credentials}@{self.db_host}:{self.db_port}/"
            f"{quote(self.db_name, safe='')}"
        )

    @property
    def redis_configured(self) -> bool:
        return bool(self.redis_url_ and self.redis_url_.get_secret_value()) or bool(self.redis_host)

    def redis_url_value(self) -> str:
        """redis-py URL: REDIS_URL as given (redis://, rediss:// or unix://), else built from
        REDIS_HOST, REDIS_PORT, REDIS_DB and REDIS_PASSWORD."""
        if self.redis_url_ is not None and self.redis_url_.get_secret_value():
            url = self.redis_url_.get_secret_value()
            if not url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError("REDIS_URL must be a redis://, rediss:// or unix:// URL")
            return url
        if not self.redis_host:
            raise ValueError("no Redis configured: set REDIS_URL or REDIS_HOST")
        password = self._password(self.redis_password, self.redis_password_file, "REDIS_PASSWORD")
        credentials = f":{quote(password, safe='')}@" if password else ""
        host = f"[{self.redis_host}]" if ":" in self.redis_host else self.redis_host  # IPv6
        scheme = "rediss" if self.redis_ssl else "redis"
        return f"{scheme}://{credentials}{host}:{self.redis_port}/{self.redis_db}"

    def fx_policy(self) -> FxPolicy:
        return FxPolicy(
            max_rate_age=timedelta(seconds=self.fx_max_rate_age),
            quote_ttl=timedelta(seconds=self.fx_quote_ttl_seconds),
            markup_bps=self.fx_markup_bps,
            settlement_currency=self.settlement_currency or None,
        )


def _reason(exc: Exception) -> str:
    # An OSError's str() names the file; its key material is never part of a message.
    return (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)


def _trusted_jwks_url(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme == "https":
        return bool(parsed.hostname)
    return parsed.scheme == "http" and parsed.hostname in ("localhost", "127.0.0.1", "::1")
