"""Settings of authentication (README "Authentication"): bearer JWTs signed by an issuer
whose public keys come from a JWKS file or URL; in development without either, a key made in
EMBEDDED_DATA_DIR signs the tokens `payment-service mint-token` prints. Mutual TLS callers
are mapped to scopes by MTLS_CLIENT_SCOPES. What depends on APP_ENV or on the TLS settings is
checked by `Settings` (server/config.py), which holds both."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

from pydantic import Field, SecretStr

from server.settings_part import SettingsPart


class AuthSettings(SettingsPart):
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
    # Client certificate common names and their scopes, e.g. "orders-service=payments:read
    # payments:write,ledger=payments:read". A call with no bearer token and a verified
    # certificate (TLS_CLIENT_CA_FILE) of a listed name acts as it.
    mtls_client_scopes: str = ""

    def problems(self) -> list[str]:
        problems = []
        secret = self.jwt_hs256_secret
        if secret is not None and len(secret.get_secret_value().encode()) < 32:
            problems.append("JWT_HS256_SECRET must be at least 32 bytes long")
        if any(not name or not scopes for name, scopes in self.certificate_scopes().items()):
            problems.append("MTLS_CLIENT_SCOPES entries are NAME=scope [scope ...]")
        if self.jwt_jwks_file is not None and self.jwt_jwks_url is not None:
            problems.append("set JWT_JWKS_FILE or JWT_JWKS_URL, not both")
        if self.jwt_jwks_url is not None and not _trusted_jwks_url(self.jwt_jwks_url):
            problems.append("JWT_JWKS_URL must be an https:// URL (http:// only to localhost)")
        return problems

    def pci_problems(self) -> list[str]:
        problems = []
        if not self.auth_enabled:
            problems.append("AUTH_ENABLED=false: callers are not authenticated")
        if self.jwt_hs256_secret is not None:
            problems.append("JWT_HS256_SECRET is set: shared-secret tokens are for development")
        if self.auth_enabled and not self.jwks_configured:
            problems.append(
                "neither JWT_JWKS_FILE nor JWT_JWKS_URL is set: tokens would be checked "
                "against the development key"
            )
        return problems

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


def _trusted_jwks_url(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme == "https":
        return bool(parsed.hostname)
    return parsed.scheme == "http" and parsed.hostname in ("localhost", "127.0.0.1", "::1")
