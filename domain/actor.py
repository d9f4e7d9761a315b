"""Who is acting: the authenticated caller of an RPC, a gateway's webhook, the Kafka consumer
or one of the service's own jobs. Set once per unit of work by the edge that received it (the
gRPC interceptors, the webhook handler, the consumer) and read by the rules that depend on it
(per-user access, the audit trail). A context variable, so every coroutine of one call sees
the same actor without passing it through every signature."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum


class ActorKind(StrEnum):
    USER = "user"  # an end user's token: acts on that user's resources only
    SERVICE = "service"  # another service's token: acts for any user within its scopes
    GATEWAY = "gateway"  # a payment gateway's signed webhook
    SYSTEM = "system"  # the service itself: jobs, the reconciler, the order events consumer
    ANONYMOUS = "anonymous"  # authentication switched off (development only)


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    subject: str  # user id, service or gateway name, job name
    scopes: frozenset[str] = field(default_factory=frozenset)
    request_id: str = "-"
    origin: str = "-"  # peer address, topic, or job


SYSTEM = Actor(ActorKind.SYSTEM, "payment-service")

current_actor: ContextVar[Actor] = ContextVar("current_actor", default=SYSTEM)
