"""Per-call context shared by interceptors and log lines."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# The authenticated caller, for scoping idempotency keys (and, later, authorization). Until
# authentication exists every call is "anonymous".
caller_var: ContextVar[str] = ContextVar("caller", default="anonymous")
