"""Bearer JWT verification (PyJWT): signature, issuer, audience, expiry, not-before, required
claims; then who the token speaks for.

Claims (see docs/security.md, "Authentication and authorization"):
- `sub`: who acts; for an end user's token, that user's id (a lower-case UUID);
- `kind`: "user" (the default: a token that does not say acts for its subject only) or
  "service" (another service, acting for any user within its scopes);
- `scope` (space-separated, OAuth 2.0) or `scopes` (a list): what it may do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWK

from domain.actor import Actor, ActorKind
from domain.errors import DomainError, TokenExpired, TokenInvalid, TokenNotYetValid
from infra.auth.jwks import ACCEPTED_ALGORITHMS, KeySource
from infra.auth.token_cache import VerifiedToken, VerifiedTokenCache, token_digest

HS256 = "HS256"
MAX_TOKEN_LENGTH = 8192
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")
_KINDS = {"user": ActorKind.USER, "service": ActorKind.SERVICE}


@dataclass(frozen=True)
class TokenRules:
    issuer: str
    audience: str
    leeway_seconds: float = 30.0
    # Development only (Settings refuses it elsewhere): tokens signed with a shared secret.
    hs256_secret: bytes | None = None


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.InvalidAudienceError):
        return "the token is not meant for this service (audience)"
    if isinstance(error, jwt.InvalidIssuerError):
        return "the token's issuer is not trusted"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"the token lacks the {error.claim} claim"
    if isinstance(error, jwt.InvalidSignatureError):
        return "the token's signature is invalid"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "the token's algorithm is not accepted"
    return "the token is malformed or invalid"


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    value = claims.get("scope", claims.get("scopes", ""))
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise TokenInvalid("the token's scope claim must be a string or a list of strings")


def actor_of(claims: dict[str, Any]) -> Actor:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise TokenInvalid("the token's sub claim must be a non-empty string")
    kind = _KINDS.get(claims.get("kind", "user"))
    if kind is None:
        raise TokenInvalid('the token\'s kind claim must be "user" or "service"')
    if kind is ActorKind.USER and not _is_canonical_uuid(subject):
        raise TokenInvalid("an end user's token must have the user's id (a UUID) as sub")
    return Actor(kind, subject, _scopes(claims))


def _is_canonical_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


class JwtVerifier:
    """Implements the domain's TokenVerifier. A token verified once is remembered (`cache`)
    until it expires, as long as the key that verified it is still the issuer's."""

    def __init__(
        self, keys: KeySource, rules: TokenRules, cache: VerifiedTokenCache | None = None
    ) -> None:
        self._keys = keys
        self._rules = rules
        self._cache = VerifiedTokenCache() if cache is None else cache
        # Tokens whose signature and claims were checked (not those answered from the cache).
        self.verifications = 0

    async def _key_for(self, header: dict[str, Any]) -> tuple[PyJWK | bytes, str]:
        """The key and the one algorithm it may verify. The header's `alg` only selects
        among keys we hold; a key is never used with another algorithm than its own."""
        alg, kid = header.get("alg"), header.get("kid")
        if alg == HS256 and self._rules.hs256_secret is not None:
            return self._rules.hs256_secret, HS256
        if alg not in ACCEPTED_ALGORITHMS:
            raise TokenInvalid("the token's algorithm is not accepted")
        if kid is not None and not isinstance(kid, str):
            raise TokenInvalid("the token is malformed or invalid")
        key = await self._keys.key(kid)
        if key.algorithm_name != alg:
            raise TokenInvalid("the token's algorithm does not match its key")
        return key, key.algorithm_name

    async def verify(self, token: str) -> Actor:
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenInvalid("the token is too long")
        digest = token_digest(token)
        cached = self._cache.get(digest)
        if cached is not None:
            # The key source is asked as for a new token: a key the issuer rotated away (or
            # reloaded: a new key object) ends the entry, and the token is verified again.
            try:
                key, _ = await self._key_for(cached.header)
            except DomainError:
                self._cache.discard(digest)
                raise
            if key is cached.key:
                return cached.actor
            self._cache.discard(digest)
        return await self._verify(token, digest)

    async def _verify(self, token: str, digest: bytes) -> Actor:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenInvalid("the token is malformed or invalid") from None
        key, algorithm = await self._key_for(header)
        rules = self._rules
        self.verifications += 1
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=rules.audience,
                issuer=rules.issuer,
                leeway=rules.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenNotYetValid("the token is not valid yet") from None
        except jwt.PyJWTError as error:
            raise TokenInvalid(_reason(error)) from None
        actor = actor_of(claims)
        # exp is a number: PyJWT refuses the token otherwise.
        self._cache.put(digest, VerifiedToken(actor, float(claims["exp"]), header, key))
        return actor
