"""Secrets given inline or as a file (Docker and Kubernetes secrets mount files): the rule
every settings part that holds one follows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr


def secret_from(value: SecretStr | None, file: Path | None, name: str) -> SecretStr | None:
    """The secret from its variable, or from the file its _FILE variable names; never both.
    Raises ValueError for both, OSError for an unreadable file."""
    if value is not None and file is not None:
        raise ValueError(f"set {name} or {name}_FILE, not both")
    if file is not None:
        return SecretStr(file.read_text().strip())
    return value


def password_from(value: SecretStr, file: Path | None, name: str) -> str:
    """DB_PASSWORD / REDIS_PASSWORD (empty: none), or the file their _FILE variable names."""
    given = value if value.get_secret_value() else None
    secret = secret_from(given, file, name)
    return "" if secret is None else secret.get_secret_value()


def unreadable(*loads: Callable[[], object]) -> list[str]:
    """Runs each secret's loader; the problems of those that fail, naming the setting."""
    problems = []
    for load in loads:
        try:
            load()
        except OSError as exc:
            problems.append(f"cannot read a secret file: {exc.strerror}")
        except ValueError as exc:
            problems.append(str(exc))
    return problems
