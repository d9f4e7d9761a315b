"""The token issuer of a test session: an Ed25519 key and an RSA key made once per session,
their public halves in a JWKS file that every test server trusts (JWT_JWKS_FILE), and
tokens minted with them. The private keys never leave this process."""

from __future__ import annotations

import atexit
import base64
import functools
import hashlib
import hmac
import json
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.tests.invalid"
AUDIENCE = "payment-service-tests"
ED25519_KID = "tests-ed25519"
RSA_KID = "tests-rsa"
# Every scope of the API: what the default token of a test carries.
ALL_SCOPES = (
    "payments:read",
    "payments:write",
    "refunds:write",
    "payment_methods:read",
    "payment_methods:write",
    "metrics:read",
    "admin",
)
SESSION_TTL_SECONDS = 12 * 3600


@dataclass(frozen=True)
class SessionIssuer:
    ed25519: Ed25519PrivateKey
    rsa: rsa.RSAPrivateKey
    jwks_file: Path

    def mint(
        self,
        subject: str = "tests",
        scopes: Iterable[str] = ALL_SCOPES,
        *,
        kind: str | None = "service",
        ttl: int = SESSION_TTL_SECONDS,
        algorithm: str = "EdDSA",
        **claims: Any,
    ) -> str:
        """A token; `claims` override or add claims (None removes one)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "kind": kind,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + ttl,
        } | claims
        body = {name: value for name, value in body.items() if value is not None}
        key: Any = self.ed25519 if algorithm == "EdDSA" else self.rsa
        kid = ED25519_KID if algorithm == "EdDSA" else RSA_KID
        return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})

    def rsa_public_pem(self) -> bytes:
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@functools.cache
def issuer() -> SessionIssuer:
    directory = Path(tempfile.mkdtemp(prefix="payments-test-jwks-"))
    atexit.register(shutil.rmtree, directory, True)
    ed25519 = Ed25519PrivateKey.generate()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = [
        OKPAlgorithm.to_jwk(ed25519.public_key(), as_dict=True) | {"kid": ED25519_KID},
        RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True) | {"kid": RSA_KID},
    ]
    jwks_file = directory / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": keys}))
    return SessionIssuer(ed25519, rsa_key, jwks_file)


@functools.cache
def admin_token() -> str:
    """The token test channels and REST clients carry unless told otherwise."""
    return issuer().mint()


def auth_settings() -> dict[str, object]:
    """Settings overrides for a server that trusts this session's issuer."""
    return {
        "jwt_jwks_file": issuer().jwks_file,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
    }


def auth_env() -> dict[str, str]:
    """The same, as environment variables for a server process."""
    return {name.upper(): str(value) for name, value in auth_settings().items()}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand, for what no JWT library will produce (alg=none, ...)."""
    return ".".join(
        [
            _b64url(json.dumps(header).encode()),
            _b64url(json.dumps(claims).encode()),
            _b64url(signature),
        ]
    )


def valid_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "tests", "kind": "service", "scope": "admin"}
    return claims | {"iat": now, "exp": now + 600} | changes


def unsigned_token() -> str:
    """alg=none: claims anyone can write."""
    return raw_token({"alg": "none", "typ": "JWT"}, valid_claims())


def hs256_token(secret: bytes, kid: str | None = RSA_KID) -> str:
    """HS256 over valid claims with `secret` as the HMAC key: with the RSA public key's PEM
    as secret, the classic algorithm confusion attack."""
    header = {"alg": "HS256", "typ": "JWT"} | ({"kid": kid} if kid else {})
    unsigned = raw_token(header, valid_claims()).rsplit(".", 1)[0]
    signature = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{_b64url(signature)}"


def forged_token() -> str:
    """Valid claims and our key id, signed by a key that is not ours."""
    stranger = Ed25519PrivateKey.generate()
    return jwt.encode(valid_claims(), stranger, algorithm="EdDSA", headers={"kid": ED25519_KID})
