"""`payment-service config show` and `payment-service --version`: what an operator asks first.

The effective configuration is every setting under the environment variable that sets it,
with the value the service would use (defaults included); a secret is never printed, only
whether it is set."""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from importlib import metadata
from pathlib import Path

from pydantic import SecretStr

from server.config import Settings

MASK = "***** (set)"
UNSET = "(unset)"


def _shown(value: object) -> str:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else UNSET
    if value is None:
        return UNSET
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_shown(item) for item in value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def effective(settings: Settings) -> Iterator[tuple[str, str]]:
    """(variable, value shown) of every setting, sorted by variable."""
    rows = []
    for name, field in type(settings).model_fields.items():
        variable = (field.alias or name).upper()
        rows.append((variable, _shown(getattr(settings, name))))
    yield from sorted(rows)


def show(settings: Settings) -> str:
    return "\n".join(f"{variable}={value}" for variable, value in effective(settings))


def _installed(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def version_text() -> str:
    """The service's version and the contract's (the payments-proto package it serves)."""
    return (
        f"payment-service {_installed('payment-service')}"
        f" (contract payments.v1 {_installed('payments-proto')})"
    )
