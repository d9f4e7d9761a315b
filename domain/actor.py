"""Who is acting: the authenticated caller of an RPC, a gateway's webhook, the Kafka consumer
or one of the service's own jobs. The edge that received the work (the gRPC interceptors, the
webhook handler, the consumer, a job) builds the use case's Deps for its actor, and the rules
that depend on it (per-user access, the audit trail) get it from there, explicitly."""

from __future__ import annotations

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
