"""Settings of Redis, a cache only (PostgreSQL is the source of truth: the service stays
correct without it): where it is, its TLS, and the prefix of every key the service writes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from pydantic import Field, SecretStr

from server.secret_settings import password_from, unreadable
from server.settings_part import SettingsPart

Port = Annotated[int, Field(ge=0, le=65535)]


class RedisSettings(SettingsPart):
    # REDIS_URL (redis://, rediss:// or unix://) takes precedence over REDIS_HOST.
    redis_url_: SecretStr | None = Field(default=None, alias="REDIS_URL")
    redis_host: str | None = None
    redis_port: Port = 6379
    redis_db: Annotated[int, Field(ge=0)] = 0
    redis_password: SecretStr = SecretStr("")
    redis_password_file: Path | None = None
    # Every key the service writes starts with this, so deployments and tests can share a server.
    redis_key_prefix: Annotated[str, Field(min_length=1)] = "payments:"
    # Redis over TLS: a rediss:// REDIS_URL, or REDIS_SSL with REDIS_HOST; the server's
    # certificate is verified against REDIS_SSL_CA_FILE (else the system's CAs).
    redis_ssl: bool = False
    redis_ssl_ca_file: Path | None = None

    def problems(self) -> list[str]:
        problems = unreadable(self._redis_password)
        ca = self.redis_ssl_ca_file
        if ca is not None and not ca.is_file():
            problems.append(f"REDIS_SSL_CA_FILE: no such file: {ca}")
        return problems

    def pci_problems(self) -> list[str]:
        if self.redis_configured and self._redis_scheme() == "redis":
            return [
                "REDIS_URL is redis:// (plaintext): use rediss:// (or REDIS_SSL=true with "
                "REDIS_HOST), with REDIS_SSL_CA_FILE naming the Redis server's CA"
            ]
        return []

    def _redis_scheme(self) -> str:
        try:
            return self.redis_url_value().partition("://")[0]
        except ValueError:  # an invalid REDIS_URL is refused at start with its own message
            return "invalid"

    def _redis_password(self) -> str:
        return password_from(self.redis_password, self.redis_password_file, "REDIS_PASSWORD")

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
        password = self._redis_password()
        credentials = f":{quote(password, safe='')}@" if password else ""
        host = f"[{self.redis_host}]" if ":" in self.redis_host else self.redis_host  # IPv6
        scheme = "rediss" if self.redis_ssl else "redis"
        return f"{scheme}://{credentials}{host}:{self.redis_port}/{self.redis_db}"
