"""Per-object access (OWASP API1, broken object level authorization): an end user's token
reaches only that user's payments, refunds and payment methods.

The rule takes the actor the unit of work was built for (ownership.py applies it to every
repository), so it holds wherever a use case runs, whichever edge it came from. Another
user's object is reported exactly like a missing one: the caller learns nothing about it,
not even that it exists.
"""

from __future__ import annotations

from typing import Protocol

from domain.actor import Actor, ActorKind
from domain.errors import ActingForAnotherUser

# The scopes a token may carry. `admin` may do everything, for any user.
PAYMENTS_READ = "payments:read"
PAYMENTS_WRITE = "payments:write"
REFUNDS_WRITE = "refunds:write"
PAYMENT_METHODS_READ = "payment_methods:read"
PAYMENT_METHODS_WRITE = "payment_methods:write"
FX_READ = "fx:read"  # exchange rates
FX_WRITE = "fx:write"  # FX quotes (setting a rate is an administrator's call)
ANALYTICS_READ = "analytics:read"  # AnalyticsService: figures across every user's payments
ADMIN = "admin"
METRICS_READ = "metrics:read"  # the REST shim's /metrics (or admin)


def confined_to(actor: Actor) -> str | None:
    """The user `actor` may act for, or None when it may act for any user (services,
    gateways, the service's own jobs, administrators)."""
    if actor.kind is ActorKind.USER and ADMIN not in actor.scopes:
        return actor.subject
    return None


def may_access(actor: Actor, owner_user_id: str) -> bool:
    user = confined_to(actor)
    return user is None or user == owner_user_id


def require_acting_for(actor: Actor, user_id: str) -> None:
    """Refuse to create something on behalf of another user than the token's own."""
    if not may_access(actor, user_id):
        raise ActingForAnotherUser(
            "this token acts for one user only and cannot act for another",
            metadata={"user_id": user_id},
        )


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Actor:
        """Who the bearer token speaks for (kind, subject, scopes). Raises TokenInvalid,
        TokenExpired, TokenNotYetValid, or SigningKeysUnavailable."""
