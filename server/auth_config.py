"""Authentication as configured: the token verifier the settings call for, the development
key, and what a PCI-compliant deployment must not run with."""

from __future__ import annotations

import httpx

from infra.auth import dev_keys
from infra.auth.jwks import JwksFile, JwksUrl, KeySource, StaticKeys
from infra.auth.verifier import JwtVerifier, TokenRules
from server.auth_settings import AuthSettings
from server.config import Settings

JWKS_FETCH_TIMEOUT = 5.0
# The token `make run` prints: an operator's, for trying the API by hand.
DEVELOPER_SUBJECT = "developer"
DEVELOPER_TTL_SECONDS = 8 * 3600


class AuthComponents:
    """The verifier (None when authentication is off) and what it owns (an HTTP client for
    a JWKS URL), closed with the application."""

    def __init__(self, settings: Settings) -> None:
        self._http: httpx.AsyncClient | None = None
        self.development_key: dev_keys.DevelopmentKey | None = None
        self.verifier: JwtVerifier | None = None
        if settings.auth_enabled:
            self.verifier = JwtVerifier(self._key_source(settings), token_rules(settings))

    def _key_source(self, settings: Settings) -> KeySource:
        if settings.jwt_jwks_file is not None:
            return JwksFile(settings.jwt_jwks_file)
        if settings.jwt_jwks_url is not None:
            self._http = httpx.AsyncClient(timeout=JWKS_FETCH_TIMEOUT)
            return JwksUrl(settings.jwt_jwks_url, self._http, ttl=settings.jwt_jwks_cache_seconds)
        self.development_key = development_key(settings)
        return StaticKeys(self.development_key.signing_keys())

    def development_token(self, settings: Settings) -> str | None:
        """An admin token for the banner of `make run`, when the development key is in use."""
        if self.development_key is None:
            return None
        return self.development_key.mint(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            subject=DEVELOPER_SUBJECT,
            scopes=["admin"],
            ttl_seconds=DEVELOPER_TTL_SECONDS,
            kind="service",
        )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def token_rules(settings: Settings) -> TokenRules:
    secret = settings.jwt_hs256_secret
    return TokenRules(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        hs256_secret=secret.get_secret_value().encode() if secret is not None else None,
    )


def development_key(settings: Settings) -> dev_keys.DevelopmentKey:
    """The development key in EMBEDDED_DATA_DIR (made on first use); ValueError unless the
    settings use it."""
    if not settings.uses_development_key:
        raise ValueError(
            "the development key is only used when APP_ENV=development, authentication is on "
            "and neither JWT_JWKS_FILE nor JWT_JWKS_URL is set"
        )
    return dev_keys.load_or_create(settings.embedded_data_dir)


def auth_settings_problems(settings: Settings) -> list[str]:
    """What PCI_COMPLIANCE_MODE must refuse, one line per setting at fault."""
    return AuthSettings.pci_problems(settings)
