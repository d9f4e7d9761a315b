"""Configuration from environment variables (names from the specification), checked at start."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.enums import GatewayName

Port = Annotated[int, Field(ge=0, le=65535)]


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


class Settings(BaseSettings):
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
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 20
    # Where `payment-service run` keeps the embedded PostgreSQL when no database is set.
    embedded_data_dir: Path = Path(".data")

    default_gateway: GatewayName = GatewayName.SIMULATOR
    # Development aid: how long each simulator gateway call takes.
    simulator_latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    shutdown_grace_seconds: Annotated[float, Field(ge=0, le=300)] = 20.0
    health_check_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0

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

    @property
    def database_configured(self) -> bool:
        return self.database_url_ is not None or self.db_host is not None

    def database_url(self) -> str:
        """SQLAlchemy URL with the asyncpg driver."""
        if self.database_url_ is not None:
            url = self.database_url_.get_secret_value()
            for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
                if url.startswith(prefix):
                    return "postgresql+asyncpg://" + url[len(prefix) :]
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        if self.db_host is None:
            raise ValueError("no database configured: set DATABASE_URL or DB_HOST")
        password = self.db_password.get_secret_value()
        credentials = quote(self.db_user, safe="") + (
            ":" + quote(password, safe="") if password else ""
        )
        return (
            f"postgresql+asyncpg://{credentials}@{self.db_host}:{self.db_port}/"
            f"{quote(self.db_name, safe='')}"
        )
