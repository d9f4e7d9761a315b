"""Bearer token verification (infra/auth): what is accepted, everything that must not be, and
where the keys come from (a JWKS file, a JWKS URL served over HTTP, the development key)."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from domain.actor import ActorKind
from domain.errors import (
    DomainError,
    SigningKeysUnavailable,
    TokenExpired,
    TokenInvalid,
    TokenNotYetValid,
)
from infra.auth import dev_keys
from infra.auth.jwks import JwksFile, JwksUrl, StaticKeys, parse_jwks
from infra.auth.verifier import JwtVerifier, TokenRules
from tests.fakes.http_server import HttpServer, Request, Response
from tests.support.auth import (
    AUDIENCE,
    ED25519_KID,
    ISSUER,
    forged_token,
    hs256_token,
    issuer,
    raw_token,
    unsigned_token,
    valid_claims,
)
from tests.support.polling import eventually

RULES = TokenRules(issuer=ISSUER, audience=AUDIENCE, leeway_seconds=30)
DEV_SECRET = b"a development secret of 32+ bytes!!"


def verifier(rules: TokenRules = RULES) -> JwtVerifier:
    return JwtVerifier(JwksFile(issuer().jwks_file), rules)


async def rejected(token: str, rules: TokenRules = RULES) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await verifier(rules).verify(token)
    assert token not in caught.value.message  # never echoed
    return caught.value


# --- accepted ---------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
async def test_a_service_token_of_either_algorithm_is_accepted(algorithm: str) -> None:
    token = issuer().mint("orders", ["payments:read", "refunds:write"], algorithm=algorithm)
    actor = await verifier().verify(token)
    assert (actor.kind, actor.subject) == (ActorKind.SERVICE, "orders")
    assert actor.scopes == {"payments:read", "refunds:write"}


async def test_a_user_token_acts_for_its_subject_and_is_the_default_kind() -> None:
    user = str(uuid.uuid4())
    explicit = await verifier().verify(issuer().mint(user, ["payments:read"], kind="user"))
    implicit = await verifier().verify(issuer().mint(user, ["payments:read"], kind=None))
    assert (explicit.kind, explicit.subject) == (ActorKind.USER, user)
    assert (implicit.kind, implicit.subject) == (ActorKind.USER, user)


async def test_scopes_may_be_a_list_claim() -> None:
    claims = valid_claims(scopes=["payments:read", "admin"])
    del claims["scope"]
    token = _signed(issuer().ed25519, ED25519_KID, claims)
    assert (await verifier().verify(token)).scopes == {"payments:read", "admin"}


async def test_small_clock_skew_is_tolerated() -> None:
    now = int(time.time())
    token = issuer().mint(exp=now - 10, nbf=now + 10, iat=now + 10)
    assert (await verifier().verify(token)).subject == "tests"


# --- refused ----------------------------------------------------------------------------------
REFUSED: dict[str, tuple[Any, type[DomainError]]] = {
    "expired": (lambda: issuer().mint(exp=int(time.time()) - 120), TokenExpired),
    "not yet valid": (lambda: issuer().mint(nbf=int(time.time()) + 120), TokenNotYetValid),
    "wrong audience": (lambda: issuer().mint(aud="another-service"), TokenInvalid),
    "wrong issuer": (lambda: issuer().mint(iss="https://evil.invalid"), TokenInvalid),
    "no expiry": (lambda: issuer().mint(exp=None), TokenInvalid),
    "no subject": (lambda: issuer().mint(sub=None), TokenInvalid),
    "no audience": (lambda: issuer().mint(aud=None), TokenInvalid),
    "alg none": (unsigned_token, TokenInvalid),
    "forged signature": (forged_token, TokenInvalid),
    "hs256 with the rsa public key": (
        lambda: hs256_token(issuer().rsa_public_pem()),
        TokenInvalid,
    ),
    "rs256 header on the ed25519 key": (
        lambda: jwt.encode(
            valid_claims(), issuer().rsa, algorithm="RS256", headers={"kid": ED25519_KID}
        ),
        TokenInvalid,
    ),
    "unknown key id": (
        lambda: jwt.encode(
            valid_claims(), issuer().ed25519, algorithm="EdDSA", headers={"kid": "nope"}
        ),
        TokenInvalid,
    ),
    "no key id among several keys": (
        lambda: jwt.encode(valid_claims(), issuer().ed25519, algorithm="EdDSA"),
        TokenInvalid,
    ),
    "user token without a uuid subject": (
        lambda: issuer().mint("alice", kind="user"),
        TokenInvalid,
    ),
    "unknown kind": (lambda: issuer().mint(kind="robot"), TokenInvalid),
    "not a jwt": (lambda: "not-a-token", TokenInvalid),
    "tampered claims": (
        lambda: _tampered(issuer().mint("svc", ["payments:read"])),
        TokenInvalid,
    ),
    "too long": (lambda: issuer().mint(padding="x" * 9000), TokenInvalid),
}


def _tampered(token: str) -> str:
    header, _, signature = token.split(".")
    claims = raw_token({}, valid_claims(sub="svc", scope="admin")).split(".")[1]
    return f"{header}.{claims}.{signature}"


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
async def test_refused_tokens(case: str) -> None:
    make, expected = REFUSED[case]
    error = await rejected(make())
    assert type(error) is expected
    assert error.kind.value == "UNAUTHENTICATED"


async def test_hs256_is_accepted_only_with_the_development_secret() -> None:
    with_secret = TokenRules(ISSUER, AUDIENCE, hs256_secret=DEV_SECRET)
    assert (await verifier(with_secret).verify(hs256_token(DEV_SECRET))).subject == "tests"
    # Without the secret configured, HS256 is not an algorithm we accept at all...
    assert isinstance(await rejected(hs256_token(DEV_SECRET)), TokenInvalid)
    # ... and with it, the RSA public key used as the HMAC secret still fails.
    confused = hs256_token(issuer().rsa_public_pem())
    assert isinstance(await rejected(confused, with_secret), TokenInvalid)


# --- keys -------------------------------------------------------------------------------------
def test_only_public_signing_keys_of_accepted_types_are_kept() -> None:
    ed = Ed25519PrivateKey.generate()
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    keys = parse_jwks(
        {
            "keys": [
                # A private JWK: only its public half is loaded.
                json.loads(str(OKPAlgorithm.to_jwk(ed))) | {"kid": "private"},
                RSAAlgorithm.to_jwk(weak.public_key(), as_dict=True) | {"kid": "weak"},
                {"kty": "oct", "k": "c2VjcmV0", "kid": "symmetric"},
                OKPAlgorithm.to_jwk(ed.public_key(), as_dict=True) | {"kid": "enc", "use": "enc"},
                {"kty": "EC", "crv": "P-256", "kid": "ec", "x": "AA", "y": "AA"},
            ]
        }
    )
    assert [key.key_id for key in keys.keys] == ["private"]
    assert not hasattr(keys.keys[0].key, "private_bytes")
    with pytest.raises(ValueError, match="JWKS"):
        parse_jwks({"no": "keys"})


async def test_a_changed_jwks_file_is_read_again_for_an_unknown_key_id(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    path.write_text(json.dumps({"keys": [_jwk(first, "one")]}))
    os.utime(path, (1_000_000, 1_000_000))
    check = JwtVerifier(JwksFile(path), RULES)
    assert await check.verify(_signed(first, "one"))
    with pytest.raises(TokenInvalid):
        await check.verify(_signed(second, "two"))
    path.write_text(json.dumps({"keys": [_jwk(first, "one"), _jwk(second, "two")]}))
    os.utime(path, (2_000_000, 2_000_000))
    assert await check.verify(_signed(second, "two"))


def _jwk(key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    return dict(OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)) | {"kid": kid}


def _signed(key: Ed25519PrivateKey, kid: str, claims: dict[str, Any] | None = None) -> str:
    body = valid_claims() if claims is None else claims
    return jwt.encode(body, key, algorithm="EdDSA", headers={"kid": kid})


class JwksEndpoint:
    """The issuer's JWKS URL: serves `keys`, counts fetches, can be taken down."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.down = False
        self.server = HttpServer(self._handle)

    async def _handle(self, request: Request) -> Response:
        self.fetches += 1
        if self.down:
            return Response(503, {"error": "down"})
        return Response(200, {"keys": self.keys})


@pytest.fixture
async def endpoint() -> AsyncIterator[JwksEndpoint]:
    served = JwksEndpoint()
    await served.server.start()
    yield served
    await served.server.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def test_jwks_url_is_cached_and_fetched_again_when_the_issuer_rotates(
    endpoint: JwksEndpoint, http: httpx.AsyncClient
) -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    endpoint.keys = [_jwk(old, "old")]
    source = JwksUrl(endpoint.server.url + "/jwks", http, ttl=300, min_refresh=0.0)
    check = JwtVerifier(source, RULES)
    for _ in range(5):
        await check.verify(_signed(old, "old"))
    assert endpoint.fetches == 1  # cached
    endpoint.keys = [_jwk(old, "old"), _jwk(new, "new")]
    assert await check.verify(_signed(new, "new"))  # unknown kid: fetched again
    assert endpoint.fetches == 2


async def test_made_up_key_ids_cannot_make_us_hammer_the_issuer(
    endpoint: JwksEndpoint, http: httpx.AsyncClient
) -> None:
    key = Ed25519PrivateKey.generate()
    endpoint.keys = [_jwk(key, "real")]
    check = JwtVerifier(JwksUrl(endpoint.server.url, http, ttl=300, min_refresh=30), RULES)
    for n in range(10):
        with pytest.raises(TokenInvalid):
            await check.verify(_signed(key, f"made-up-{n}"))
    assert endpoint.fetches == 1


async def test_jwks_url_keys_expire_and_survive_an_issuer_outage(
    endpoint: JwksEndpoint, http: httpx.AsyncClient
) -> None:
    key = Ed25519PrivateKey.generate()
    endpoint.keys = [_jwk(key, "k")]
    check = JwtVerifier(JwksUrl(endpoint.server.url, http, ttl=0.05, min_refresh=0.05), RULES)
    await check.verify(_signed(key, "k"))
    endpoint.down = True

    async def refetched_while_down() -> bool:
        await check.verify(_signed(key, "k"))  # the cached keys stay in use
        return endpoint.fetches >= 2

    await eventually(refetched_while_down)


async def test_no_reachable_jwks_is_unavailable_not_unauthenticated(
    endpoint: JwksEndpoint, http: httpx.AsyncClient
) -> None:
    endpoint.down = True
    check = JwtVerifier(JwksUrl(endpoint.server.url, http), RULES)
    with pytest.raises(SigningKeysUnavailable):
        await check.verify(_signed(Ed25519PrivateKey.generate(), "k"))


async def test_the_development_key_is_made_once_and_signs_verifiable_tokens(
    tmp_path: Path,
) -> None:
    key = dev_keys.load_or_create(tmp_path)
    again = dev_keys.load_or_create(tmp_path)
    path = tmp_path / dev_keys.KEY_FILE
    assert key.jwk == again.jwk
    assert path.stat().st_mode & 0o777 == 0o600
    token = key.mint(
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="dev",
        scopes=["admin"],
        ttl_seconds=60,
        kind="service",
    )
    actor = await JwtVerifier(StaticKeys(key.signing_keys()), RULES).verify(token)
    assert actor.subject == "dev" and actor.scopes == {"admin"}
    # Another directory, another key: its tokens are forged for this one.
    stranger = dev_keys.load_or_create(tmp_path / "other")
    assert stranger.kid != key.kid
    with pytest.raises(TokenInvalid):
        await JwtVerifier(StaticKeys(key.signing_keys()), RULES).verify(
            stranger.mint(
                issuer=ISSUER,
                audience=AUDIENCE,
                subject="dev",
                scopes=[],
                ttl_seconds=60,
                kind="service",
            )
        )
