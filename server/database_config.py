"""Settings of PostgreSQL: where it is (DATABASE_URL, or DB_HOST and the rest), who we are,
and how many connections a process pools. TLS towards it: server/transport_config.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from pydantic import Field, SecretStr

from server.secret_settings import password_from, unreadable
from server.settings_part import SettingsPart

Port = Annotated[int, Field(ge=0, le=65535)]
_SSL_QUERY = re.compile(r"[?&](?:ssl|sslmode|sslrootcert|sslcert|sslkey)=", re.IGNORECASE)


class DatabaseSettings(SettingsPart):
    database_url_: SecretStr | None = Field(default=None, alias="DATABASE_URL")
    db_host: str | None = None
    db_port: Port = 5432
    db_name: str = "payment_service"
    db_user: str = "payment_service"
    db_password: SecretStr = SecretStr("")
    db_password_file: Path | None = None
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 20

    def problems(self) -> list[str]:
        return unreadable(self._db_password)

    def _db_password(self) -> str:
        return password_from(self.db_password, self.db_password_file, "DB_PASSWORD")

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
        password = self._db_password()
        credentials = quote(self.db_user, safe="") + (
            ":" + quote(password, safe="") if password else ""
        )
        return (
            f"postgresql+asyncpg://{credentials}@{self.db_host}:{self.db_port}/"
            f"{quote(self.db_name, safe='')}"
        )
