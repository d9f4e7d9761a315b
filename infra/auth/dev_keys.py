"""The development signing key: an Ed25519 key pair made once in the embedded data directory,
so that `make run` works with authentication on and `payment-service mint-token` can hand out
tokens that the local server accepts. Never used outside APP_ENV=development.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from infra.auth.jwks import SigningKeys, parse_jwks

KEY_FILE = Path("auth") / "dev-signing-key.pem"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
    # RFC 7638 thumbprint as the key id: stable for the key, different for any other.
    thumbprint = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    return members | {"kid": _b64url(thumbprint)[:16], "alg": "EdDSA", "use": "sig"}


class DevelopmentKey:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self.private = private
        self.jwk = public_jwk(private.public_key())

    @property
    def kid(self) -> str:
        return self.jwk["kid"]

    def signing_keys(self) -> SigningKeys:
        return parse_jwks({"keys": [self.jwk]})

    def mint(
        self,
        *,
        issuer: str,
        audience: str,
        subject: str,
        scopes: Iterable[str],
        ttl_seconds: int,
        kind: str,
        now: float | None = None,
    ) -> str:
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "kind": kind,
            "scope": " ".join(scopes),
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_seconds,
        }
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": self.kid})


def load_or_create(data_dir: Path) -> DevelopmentKey:
    """The key in `data_dir`, made on first use (readable by its owner only). Two processes
    starting at once agree on one key: it is written aside, then linked into place, which
    fails for the second one."""
    path = data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as sink:
            sink.write(pem)
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            aside.unlink()
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return DevelopmentKey(private)
