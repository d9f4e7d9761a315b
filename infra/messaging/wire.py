"""The published form of a domain event: the Kafka value and headers, rendered once.

The outbox stores this form when the event is committed and the relay ships it as it is.
Rendering needs the contract (the specification's JSON), which lives with the server: the
composition root injects a `RenderEvent` into the outbox and the relay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.events import DomainEvent


@dataclass(frozen=True, slots=True)
class WireMessage:
    # The message value as published (UTF-8 JSON).
    value: bytes
    # Kafka headers in publishing order (CloudEvents binary mode); text, encoded when sent.
    headers: tuple[tuple[str, str], ...]

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return [(name, text.encode()) for name, text in self.headers]


RenderEvent = Callable[[DomainEvent], WireMessage]
