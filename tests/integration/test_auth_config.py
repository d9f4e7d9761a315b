"""Authentication settings, the PCI checks on them, the scope table, and the mint-token
command (no server: the CLI is run in this process)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from domain.actor import ActorKind
from domain.errors import InsufficientScope, TokenInvalid, TokenMissing
from infra.auth.jwks import StaticKeys
from infra.auth.verifier import JwtVerifier
from payments.v1 import (
    analytics_service_pb2,
    dispute_service_pb2,
    fx_service_pb2,
    payment_method_service_pb2,
    payment_service_pb2,
    webhook_service_pb2,
)
from server import cli, logs
from server.auth import (
    GATEWAY_METHODS,
    REQUIRED_SCOPES,
    Authenticator,
    bearer_token,
    required_scope,
)
from server.auth_config import (
    AuthComponents,
    auth_settings_problems,
    development_key,
    token_rules,
)
from server.config import AppEnv, Settings
from tests.support.auth import auth_settings, issuer

JWKS_URL = "https://issuer.example/.well-known/jwks.json"


def settings(**values: Any) -> Settings:
    return Settings(**values)


# --- settings ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"app_env": "production", "auth_enabled": False, "jwt_jwks_url": JWKS_URL},
         "AUTH_ENABLED=false is only allowed when APP_ENV=development"),
        ({"app_env": "staging", "jwt_hs256_secret": "x" * 40, "jwt_jwks_url": JWKS_URL},
         "JWT_HS256_SECRET is only allowed when APP_ENV=development"),
        ({"jwt_hs256_secret": "short"}, "at least 32 bytes"),
        ({"jwt_jwks_url": JWKS_URL, "jwt_jwks_file": "/etc/jwks.json"}, "not both"),
        ({"jwt_jwks_url": "http://issuer.example/jwks"}, "https://"),
    ],
)  # fmt: skip
def test_unsafe_auth_settings_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings(**values)


def test_pci_problems_name_each_unsafe_auth_setting() -> None:
    production = settings(app_env="production", jwt_jwks_url=JWKS_URL)
    assert auth_settings_problems(production) == []
    problems = auth_settings_problems(settings(auth_enabled=False, jwt_hs256_secret="s" * 32))
    assert any("AUTH_ENABLED=false" in p for p in problems)
    assert any("JWT_HS256_SECRET" in p for p in problems)
    dev_key = auth_settings_problems(settings())
    assert any("development key" in p for p in dev_key)
    assert settings().uses_development_key and not production.uses_development_key


def test_serving_outside_development_needs_the_issuers_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("JWT_JWKS_FILE", "JWT_JWKS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setattr(logs, "configure", lambda level, **_: None)
    assert settings(app_env="production").missing_auth_keys() is not None
    assert settings(app_env="production", jwt_jwks_url=JWKS_URL).missing_auth_keys() is None
    for command in ("serve", "check-config"):
        with pytest.raises(SystemExit) as exited:
            cli.main([command])
        assert exited.value.code == 2
        assert "JWT_JWKS_FILE or JWT_JWKS_URL is required when APP_ENV=production" in (
            capsys.readouterr().err
        )


# --- the scope table covers the contract --------------------------------------------------
def _methods(module: Any, service: str) -> set[str]:
    descriptor = module.DESCRIPTOR.services_by_name[service]
    return {f"/{descriptor.full_name}/{m.name}" for m in descriptor.methods}


def test_every_rpc_has_a_scope_or_is_a_webhook() -> None:
    api = (
        _methods(payment_service_pb2, "PaymentService")
        | _methods(payment_method_service_pb2, "PaymentMethodService")
        | _methods(fx_service_pb2, "FxService")
        | _methods(analytics_service_pb2, "AnalyticsService")
        | _methods(dispute_service_pb2, "DisputeService")
    )
    assert set(REQUIRED_SCOPES) == api
    assert set(GATEWAY_METHODS) == _methods(webhook_service_pb2, "WebhookService")
    assert required_scope("/payments.v1.PaymentService/SomethingNew") == "admin"


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, TokenMissing),
        ("", TokenInvalid),
        ("Bearer", TokenInvalid),
        ("Bearer ", TokenInvalid),
        ("Basic dXNlcjpwYXNz", TokenInvalid),
        ("Bearer two tokens", TokenInvalid),
    ],
)
def test_malformed_authorization_headers(header: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        bearer_token(header)
    assert bearer_token("bearer  abc.def.ghi ") == "abc.def.ghi"


class _Context:
    def __init__(self, metadata: dict[str, str], peer: str = "ipv4:10.0.0.7:5000") -> None:
        self._metadata = [type("Item", (), {"key": k, "value": v}) for k, v in metadata.items()]
        self._peer = peer

    def invocation_metadata(self) -> list[Any]:
        return self._metadata

    def peer(self) -> str:
        return self._peer


async def test_the_actor_of_a_call() -> None:
    components = AuthComponents(settings_for_auth())
    auth = Authenticator(components.verifier, "shim-secret")
    user = str(uuid.uuid4())
    token = issuer().mint(user, ["payments:read"], kind="user")
    read = "/payments.v1.PaymentService/GetPayment"
    actor = await auth.actor(read, _Context({"authorization": f"Bearer {token}"}))
    assert (actor.kind, actor.subject, actor.origin) == (ActorKind.USER, user, "ipv4:10.0.0.7:5000")
    with pytest.raises(InsufficientScope):
        await auth.actor(
            "/payments.v1.PaymentService/CreatePayment",
            _Context({"authorization": f"Bearer {token}"}),
        )
    # Forwarded by the REST shim (which knows the secret): the HTTP client is the origin.
    shim = {"authorization": f"Bearer {token}", "x-forwarded-for": "192.0.2.1:443"}
    forwarded = await auth.actor(read, _Context(shim | {"x-payments-rest-shim": "shim-secret"}))
    spoofed = await auth.actor(read, _Context(shim | {"x-payments-rest-shim": "guess"}))
    assert forwarded.origin == "rest:192.0.2.1:443"
    assert spoofed.origin == "ipv4:10.0.0.7:5000"
    # Webhooks: no token, the gateway is the actor (its signature is checked by the servicer).
    webhook = await auth.actor("/payments.v1.WebhookService/HandleStripeWebhook", _Context({}))
    assert (webhook.kind, webhook.subject) == (ActorKind.GATEWAY, "stripe")
    # Authentication off (development only): anonymous, whatever the call.
    anonymous = await Authenticator(None, "s").actor(read, _Context({}))
    assert anonymous.kind is ActorKind.ANONYMOUS
    await components.aclose()


def settings_for_auth() -> Settings:
    return settings(**auth_settings())


# --- mint-token -------------------------------------------------------------------------------
def _mint(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    cli.main(["mint-token", *args])
    return capsys.readouterr().out.strip()


@pytest.fixture
def development(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    for name in ("JWT_JWKS_FILE", "JWT_JWKS_URL", "AUTH_ENABLED", "JWT_HS256_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("EMBEDDED_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(logs, "configure", lambda level, **_: None)  # keep pytest's logging
    return Settings()


def test_mint_token_prints_a_token_the_development_server_accepts(
    development: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    user = str(uuid.uuid4())
    token = _mint(capsys, "--sub", user, "--scopes", "payments:read,refunds:write")
    assert token.count(".") == 2 and "\n" not in token
    verifier = JwtVerifier(
        StaticKeys(development_key(development).signing_keys()), token_rules(development)
    )
    actor = asyncio.run(verifier.verify(token))
    assert (actor.kind, actor.subject) == (ActorKind.USER, user)
    assert actor.scopes == {"payments:read", "refunds:write"}
    service = asyncio.run(verifier.verify(_mint(capsys, "--sub", "orders")))
    assert service.kind is ActorKind.SERVICE and service.scopes == frozenset()


@pytest.mark.parametrize(
    ("env", "args"),
    [
        ({"JWT_JWKS_FILE": "/etc/payments/jwks.json"}, []),
        ({"APP_ENV": "production", "JWT_JWKS_URL": JWKS_URL}, []),
        ({"AUTH_ENABLED": "false"}, []),
        ({}, ["--kind", "user"]),  # a user token for a subject that is not a user id
        ({}, ["--ttl", "0"]),
    ],
)
def test_mint_token_refuses_outside_the_development_key(
    development: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    args: list[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        cli.main(["mint-token", "--sub", "someone", *args])
    assert exited.value.code == 2
    assert capsys.readouterr().out == ""  # nothing that looks like a token


def test_the_banner_prints_the_development_token(development: Settings) -> None:
    text = cli.banner(development, 9090, "db", token="abc.def.ghi")
    assert "export TOKEN=abc.def.ghi" in text
    assert '-H "authorization: Bearer $TOKEN"' in text
    off = cli.banner(settings(auth_enabled=False, app_env=AppEnv.DEVELOPMENT), 9090, "db")
    assert "Bearer" not in off and "OFF" in off
