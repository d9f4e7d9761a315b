"""The documentation lists what the code has: every environment variable the settings read
(docs/configuration.md), every RPC with its REST path and every error reason (docs/api.md),
the scope each RPC requires (docs/security.md). One added without its line in the docs fails
here; so does a documented variable or path that is gone."""

from __future__ import annotations

import inspect
import re

from domain import errors
from server.auth import REQUIRED_SCOPES
from server.config import Settings
from server.rest.routes import build_routes, contract_services
from tests.unit.docs_links import ROOT

# Read by `payment-service migrate` (the migrations), not by the service's settings.
MIGRATION_VARIABLES = {"MINOR_UNITS_DECLARED", "DB_APP_ROLE"}
_VARIABLE = re.compile(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`")


def _table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _settings_variables() -> set[str]:
    return {(field.alias or name).upper() for name, field in Settings.model_fields.items()}


def _documented_variables() -> set[str]:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    return {name for row in _table_rows(text) for name in _VARIABLE.findall(row[0])}


def test_every_setting_has_a_row_in_the_configuration_document() -> None:
    missing = sorted(_settings_variables() - _documented_variables())
    assert not missing, f"docs/configuration.md has no row for {missing}"


def test_every_documented_variable_is_read() -> None:
    stale = sorted(_documented_variables() - _settings_variables() - MIGRATION_VARIABLES)
    assert not stale, f"docs/configuration.md documents variables nothing reads: {stale}"


def test_every_rpc_is_in_the_api_table_with_its_rest_path() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    rows: dict[str, str] = {}
    for row in _table_rows(text):
        match = re.fullmatch(r"`(?:\w+/)?(\w+)`", row[0])
        if match and len(row) >= 2:
            rows[match.group(1)] = row[1]
    problems = []
    for route in build_routes(contract_services()):
        name = route.method.name
        if name not in rows:
            problems.append(f"{name}: no row")
            continue
        # The table may shorten a path's start to "…" (POST …/{payment_id}/capture).
        pattern = re.escape(f"{route.http_method} {route.path}")
        documented = re.escape(rows[name].strip("`")).replace("…", ".*")
        if not re.fullmatch(documented, f"{route.http_method} {route.path}"):
            problems.append(f"{name}: documented {rows[name]}, served {pattern}")
    assert not problems, "\n".join(problems)


def test_the_scope_table_names_the_scope_each_rpc_requires() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    documented: dict[str, str] = {}
    for row in _table_rows(text):
        scope_cell = re.fullmatch(r"`([a-z_]+(?::[a-z]+)?)`", row[0])
        if scope_cell and len(row) >= 2:
            # Asides in parentheses name RPCs of other scopes: "(`SetExchangeRate` needs `admin`)".
            for rpc in re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", row[1])):
                documented.setdefault(rpc, scope_cell.group(1))
    problems = []
    for method, scope in REQUIRED_SCOPES.items():
        rpc = method.rsplit("/", 1)[1]
        if documented.get(rpc) != scope:
            problems.append(f"{rpc} needs {scope}; docs/security.md says {documented.get(rpc)}")
    assert not problems, "\n".join(problems)


def test_every_error_reason_is_in_the_api_document() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    reasons = {
        cls.__dict__["reason"]
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.DomainError) and isinstance(cls.__dict__.get("reason"), str)
    }
    # The base class's placeholder, and a consumer-side error no caller ever receives (a
    # poison order event is dead-lettered, docs/events.md).
    reasons -= {"DOMAIN_ERROR", "INVALID_ORDER_EVENT"}
    reasons.add("FRAUD_SUSPECTED")  # a decline whose reason is given at construction
    missing = sorted(reason for reason in reasons if f"`{reason}`" not in text)
    assert not missing, f"docs/api.md's error table lacks {missing}"
