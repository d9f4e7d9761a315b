"""Verified tokens are remembered (infra/auth/token_cache.py), with real tokens and keys: a
token seen before is accepted without being verified again, never after it expires, never
once the key that verified it is gone, and the cache holds a bounded number of tokens."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from domain.actor import Actor, ActorKind
from domain.errors import TokenExpired, TokenInvalid
from infra.auth.jwks import JwksFile, JwksUrl
from infra.auth.token_cache import VerifiedToken, VerifiedTokenCache, token_digest
from infra.auth.verifier import JwtVerifier, TokenRules
from tests.fakes.http_server import HttpServer, Request, Response
from tests.support.auth import AUDIENCE, ISSUER, forged_token, issuer, valid_claims
from tests.support.polling import eventually

RULES = TokenRules(issuer=ISSUER, audience=AUDIENCE, leeway_seconds=30)
NO_LEEWAY = TokenRules(issuer=ISSUER, audience=AUDIENCE, leeway_seconds=0)


def session_verifier(rules: TokenRules = RULES, **cache: Any) -> JwtVerifier:
    return JwtVerifier(JwksFile(issuer().jwks_file), rules, VerifiedTokenCache(**cache))


def _jwk(key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    return dict(OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)) | {"kid": kid}


def _signed(key: Ed25519PrivateKey, kid: str, **claims: Any) -> str:
    return jwt.encode(valid_claims(**claims), key, algorithm="EdDSA", headers={"kid": kid})


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
async def test_a_token_seen_before_is_accepted_without_verifying_it_again(algorithm: str) -> None:
    check = session_verifier()
    token = issuer().mint("orders", ["payments:read"], algorithm=algorithm)
    actors = [await check.verify(token) for _ in range(5)]
    assert check.verifications == 1
    assert {(a.subject, a.scopes) for a in actors} == {("orders", frozenset({"payments:read"}))}
    await check.verify(issuer().mint("other", ["payments:read"], algorithm=algorithm))
    assert check.verifications == 2  # another token: verified


async def test_a_refused_token_is_not_remembered() -> None:
    check = session_verifier()
    token = forged_token()
    for expected in (1, 2):
        with pytest.raises(TokenInvalid):
            await check.verify(token)
        assert check.verifications == expected


async def test_a_cached_token_is_refused_once_it_expires() -> None:
    check = session_verifier(NO_LEEWAY)
    expires = int(time.time()) + 2
    token = issuer().mint(exp=expires)
    await check.verify(token)
    await check.verify(token)
    assert check.verifications == 1

    async def expired() -> bool:
        return time.time() >= expires

    await eventually(expired, within=5)
    with pytest.raises(TokenExpired):
        await check.verify(token)
    assert check.verifications == 2  # verified again, not answered from the cache


def test_an_entry_ends_at_the_tokens_expiry() -> None:
    now = [1_000.0]
    cache = VerifiedTokenCache(clock=lambda: now[0])
    entry = VerifiedToken(Actor(ActorKind.SERVICE, "s"), expires_at=1_010.0, header={}, key=None)
    cache.put(b"d", entry)
    now[0] = 1_009.999
    assert cache.get(b"d") is entry
    now[0] = 1_010.0
    assert cache.get(b"d") is None
    assert len(cache) == 0
    cache.put(b"late", entry)  # already expired when verified (clock skew leeway): not kept
    assert len(cache) == 0


async def test_a_cached_token_is_refused_once_its_key_leaves_the_jwks_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jwks.json"
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    path.write_text(json.dumps({"keys": [_jwk(old, "old")]}))
    os.utime(path, (1_000_000, 1_000_000))
    check = JwtVerifier(JwksFile(path), RULES)
    token = _signed(old, "old")
    await check.verify(token)
    await check.verify(token)
    assert check.verifications == 1
    # The issuer rotates: only the new key is published, and a token signed with it makes
    # the file be read again.
    path.write_text(json.dumps({"keys": [_jwk(new, "new")]}))
    os.utime(path, (2_000_000, 2_000_000))
    await check.verify(_signed(new, "new"))
    with pytest.raises(TokenInvalid):
        await check.verify(token)


class JwksEndpoint:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.server = HttpServer(self._handle)

    async def _handle(self, request: Request) -> Response:
        return Response(200, {"keys": self.keys})


@pytest.fixture
async def endpoint() -> AsyncIterator[JwksEndpoint]:
    served = JwksEndpoint()
    await served.server.start()
    yield served
    await served.server.close()


async def test_a_cached_token_is_refused_once_the_issuer_stops_publishing_its_key(
    endpoint: JwksEndpoint,
) -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    endpoint.keys = [_jwk(old, "old")]
    async with httpx.AsyncClient(timeout=5) as http:
        source = JwksUrl(endpoint.server.url, http, ttl=0.05, min_refresh=0.05)
        check = JwtVerifier(source, RULES)
        token = _signed(old, "old")
        await check.verify(token)
        endpoint.keys = [_jwk(new, "new")]

        async def refused() -> bool:
            try:
                await check.verify(token)
            except TokenInvalid:
                return True
            return False

        await eventually(refused)


async def test_the_cache_keeps_the_most_recently_used_tokens_up_to_its_bound() -> None:
    cache = VerifiedTokenCache(max_entries=3)
    check = JwtVerifier(JwksFile(issuer().jwks_file), RULES, cache)
    tokens = [issuer().mint(f"service-{n}") for n in range(5)]
    for token in tokens:
        await check.verify(token)
    assert len(cache) == 3
    assert check.verifications == 5
    await check.verify(tokens[0])  # pushed out by the later ones: verified again
    assert check.verifications == 6
    await check.verify(tokens[4])  # among the three most recent: remembered
    assert check.verifications == 6
    assert len(cache) == 3


async def test_the_cache_is_keyed_by_a_digest_never_the_token() -> None:
    cache = VerifiedTokenCache()
    check = JwtVerifier(JwksFile(issuer().jwks_file), RULES, cache)
    token = issuer().mint()
    await check.verify(token)
    assert cache.get(token_digest(token)) is not None
    assert token not in repr(vars(cache))
    assert token.encode() not in repr(vars(cache)).encode()
