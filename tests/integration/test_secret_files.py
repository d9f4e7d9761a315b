"""DB_PASSWORD_FILE and REDIS_PASSWORD_FILE: the passwords from files (Kubernetes and Docker
secrets mounted as files), as ENCRYPTION_KEY_FILE and the others already are; never both the
variable and its file; an unreadable file refuses the configuration without showing it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from server.config import Settings


def test_database_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "db-password"
    secret.write_text("s3cr/t p@ss\n")  # a trailing newline, as `kubectl create secret` keeps
    settings = Settings(db_host="db", db_user="svc", db_password_file=secret)
    assert (
        settings.database_url()
        == "postgresql+asyncpg://svc:s3cr%2Ft%20p%40ss@db:5432/payment_service"
    )


def test_redis_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "redis-password"
    secret.write_text("r3dis")
    settings = Settings(redis_host="cache", redis_password_file=secret)
    assert settings.redis_url_value() == "redis://:r3dis@cache:6379/0"


def test_the_variable_and_its_file_are_not_both_allowed(tmp_path: Path) -> None:
    secret = tmp_path / "db-password"
    secret.write_text("one")
    with pytest.raises(ValidationError, match="DB_PASSWORD or DB_PASSWORD_FILE"):
        Settings(db_host="db", db_password=SecretStr("two"), db_password_file=secret)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read a secret file"):
        Settings(redis_host="cache", redis_password_file=tmp_path / "missing")
