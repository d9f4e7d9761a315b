"""The issuer's public signing keys, from a JWKS document (RFC 7517): a file, a URL, or the
development key.

Each key is bound to the one algorithm its type is for (Ed25519 -> EdDSA, RSA -> RS256): the
verifier asks the key which algorithm to check, never the token. Keys of any other type,
symmetric keys, encryption keys and RSA keys under 2048 bits are ignored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from domain.errors import SigningKeysUnavailable, TokenInvalid

log = logging.getLogger("payments.auth")

ACCEPTED_ALGORITHMS = frozenset({"EdDSA", "RS256"})
MIN_RSA_BITS = 2048
# Public members per key type: private members in a JWKS are ignored, never loaded.
_PUBLIC_MEMBERS = {"OKP": ("crv", "x"), "RSA": ("n", "e")}
_COMMON_MEMBERS = ("kty", "kid", "alg", "use")


class SigningKeys:
    """One snapshot of the issuer's keys, by key id."""

    def __init__(self, keys: list[PyJWK]) -> None:
        self.keys = keys
        self._by_kid = {key.key_id: key for key in keys if key.key_id}

    def select(self, kid: str | None) -> PyJWK | None:
        if kid is not None:
            return self._by_kid.get(kid)
        # A token without a key id is only acceptable when there is no choice to make.
        return self.keys[0] if len(self.keys) == 1 else None

    def __len__(self) -> int:
        return len(self.keys)


def _public_part(jwk: Mapping[str, Any]) -> dict[str, Any] | None:
    members = _PUBLIC_MEMBERS.get(str(jwk.get("kty")))
    if members is None:
        return None
    return {name: jwk[name] for name in (*_COMMON_MEMBERS, *members) if name in jwk}


def _usable(jwk: Mapping[str, Any]) -> PyJWK | None:
    if jwk.get("use", "sig") != "sig":
        return None
    public = _public_part(jwk)
    if public is None:
        return None
    try:
        key = PyJWK(public)
    except (PyJWKError, ValueError, TypeError):
        return None
    if key.algorithm_name not in ACCEPTED_ALGORITHMS:
        return None
    if key.key_type == "RSA" and getattr(key.key, "key_size", 0) < MIN_RSA_BITS:
        return None
    return key


def parse_jwks(document: object) -> SigningKeys:
    """The usable keys of a JWKS document; ValueError when it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS document is a JSON object with a "keys" array')
    keys: list[PyJWK] = []
    for jwk in document["keys"]:
        key = _usable(jwk) if isinstance(jwk, dict) else None
        if key is None:
            log.warning("ignoring a JWKS key that is not an EdDSA or RS256 signing key")
        else:
            keys.append(key)
    return SigningKeys(keys)


class KeySource(Protocol):
    async def key(self, kid: str | None) -> PyJWK:
        """The key for this key id; TokenInvalid when there is none, SigningKeysUnavailable
        when the keys cannot be had at all."""


def _unknown_key(kid: str | None) -> TokenInvalid:
    detail = "its key id is unknown" if kid else "it has no key id"
    return TokenInvalid(f"the token cannot be verified: {detail}")


class StaticKeys:
    """Keys that never change (the development key)."""

    def __init__(self, keys: SigningKeys) -> None:
        self._keys = keys

    async def key(self, kid: str | None) -> PyJWK:
        found = self._keys.select(kid)
        if found is None:
            raise _unknown_key(kid)
        return found


class JwksFile:
    """A JWKS file (a mounted secret, rotated by replacing it): read at start, read again
    when a token names a key id we do not know and the file has changed since."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._mtime, self._keys = self._load()

    def _load(self) -> tuple[float, SigningKeys]:
        mtime = self._path.stat().st_mtime
        keys = parse_jwks(json.loads(self._path.read_text()))
        if not keys:
            raise ValueError(f"{self._path} holds no EdDSA or RS256 signing key")
        return mtime, keys

    async def key(self, kid: str | None) -> PyJWK:
        found = self._keys.select(kid)
        if found is None:
            try:
                if self._path.stat().st_mtime != self._mtime:
                    self._mtime, self._keys = self._load()
                    log.info("JWKS file reloaded")
            except (OSError, ValueError) as exc:
                log.warning("JWKS file not reloaded: %s", type(exc).__name__)
            found = self._keys.select(kid)
        if found is None:
            raise _unknown_key(kid)
        return found


class JwksUrl:
    """The issuer's JWKS endpoint, cached for `ttl` seconds. An unknown key id triggers a
    refresh (the issuer rotated its keys), at most once per `min_refresh` seconds so that
    tokens with made-up key ids cannot make us hammer the issuer. When a refresh fails the
    cached keys stay in use."""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        ttl: float = 300.0,
        min_refresh: float = 30.0,
    ) -> None:
        self._url = url
        self._http = http
        self._ttl = ttl
        self._min_refresh = min(min_refresh, ttl)
        self._keys: SigningKeys | None = None
        self._fetched_at = 0.0
        self._tried_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _refresh(self, *, forced: bool) -> None:
        async with self._lock:
            now = time.monotonic()
            fresh = self._keys is not None and now - self._fetched_at < self._ttl
            if (fresh and not forced) or now - self._tried_at < self._min_refresh:
                return  # someone refreshed meanwhile, or we tried a moment ago
            self._tried_at = now
            try:
                response = await self._http.get(self._url, headers={"Accept": "application/json"})
                response.raise_for_status()
                keys = parse_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("JWKS not fetched: %s", type(exc).__name__)
                return
            self._keys, self._fetched_at = keys, now

    async def key(self, kid: str | None) -> PyJWK:
        if self._keys is None or time.monotonic() - self._fetched_at >= self._ttl:
            await self._refresh(forced=False)
        if self._keys is None:
            raise SigningKeysUnavailable("the token issuer's signing keys are unavailable")
        found = self._keys.select(kid)
        if found is None:
            await self._refresh(forced=True)
            found = self._keys.select(kid)
        if found is None:
            raise _unknown_key(kid)
        return found
