"""Rate limiting per caller: the port a limiter implements and whose bucket a call takes
from.

The caller is the authenticated actor (domain/actor.py): a user's or a service's token is
limited on its own wherever it calls from. Calls without one (authentication switched off,
or the service's own SYSTEM context) are limited per client address instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.actor import Actor, ActorKind

_BY_ADDRESS = frozenset({ActorKind.ANONYMOUS, ActorKind.SYSTEM})


@dataclass(frozen=True, slots=True)
class RateLimitVerdict:
    allowed: bool
    # When not allowed: how long until the bucket holds a token again.
    retry_after_seconds: float = 0.0


class RateLimiter(Protocol):
    async def acquire(self, caller: str) -> RateLimitVerdict:
        """Takes one request from the caller's allowance. A limiter whose store cannot be
        reached allows the call (fails open): limits protect capacity, not correctness."""


def caller_key(actor: Actor, client_address: str) -> str:
    """Whose allowance a call takes from."""
    if actor.kind in _BY_ADDRESS:
        return f"address:{client_address}"
    return f"{actor.kind.value}:{actor.subject}"
