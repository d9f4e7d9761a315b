"""Per-call context shared by interceptors and log lines."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from domain.actor import SYSTEM, Actor

if TYPE_CHECKING:
    from domain.idempotency import KeyedRequest

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# The authenticated caller, for scoping idempotency keys (and, later, authorization). Until
# authentication exists every call is "anonymous".
caller_var: ContextVar[str] = ContextVar("caller", default="anonymous")

# Who the call is from, set by the authentication interceptor: the servicers build the use
# case's Deps for it (the domain gets the actor explicitly), and log lines name it.
actor_var: ContextVar[Actor] = ContextVar("actor", default=SYSTEM)

# The keyed request of the current call, when its key lives in the call's transactions
# (server/idempotency.py): the servicers' units of work claim and answer it.
request_claim_var: ContextVar[KeyedRequest | None] = ContextVar("request_claim", default=None)
