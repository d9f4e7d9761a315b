"""Per-call context shared by interceptors and log lines."""

from __future__ import annotations

from contextvars import ContextVar

from domain.actor import SYSTEM, Actor

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# The authenticated caller, for scoping idempotency keys (and, later, authorization). Until
# authentication exists every call is "anonymous".
caller_var: ContextVar[str] = ContextVar("caller", default="anonymous")

# Who the call is from, set by the authentication interceptor: the servicers build the use
# case's Deps for it (the domain gets the actor explicitly), and log lines name it.
actor_var: ContextVar[Actor] = ContextVar("actor", default=SYSTEM)
