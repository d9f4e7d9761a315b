"""Which order event a consumed record is: the two forms order producers write.

- CloudEvents on the one shared topic (KAFKA_TOPIC_ORDER_EVENTS): every type on one topic,
  the type in the `ce_type` header, else in a JSON `type` or `eventType` field.
- The specification's form: exactly its JSON (no type field, no headers) on a topic named
  after the event (KAFKA_TOPIC_ORDER_CONFIRMED, KAFKA_TOPIC_ORDER_CANCELLED). The topic is
  the type, so a header or field that names another type makes the record ambiguous: it is
  dead-lettered rather than acted on as either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiokafka.structs import ConsumerRecord


class PoisonMessage(Exception):
    """The record can never be processed."""


@dataclass(frozen=True, slots=True)
class OrderTopics:
    # The shared topic: CloudEvents-typed (or type-field) messages of any type.
    shared: str
    # Per-event topics of the specification's form: topic -> the event type it carries.
    per_event: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # One topic with two meanings would make a record's type depend on which rule wins.
        if self.shared in self.per_event:
            raise ValueError(f"topic {self.shared!r} is both the shared and a per-event topic")

    @property
    def subscribed(self) -> list[str]:
        return [self.shared, *self.per_event]

    @property
    def dead_letter(self) -> str:
        # One dead-letter topic for all of them: the record's own topic travels in a header.
        return f"{self.shared}.dlq"


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", errors="replace")
    return None


def _body(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    try:
        body = json.loads(record.value or b"", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonMessage(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise PoisonMessage("the value is not a JSON object")
    return body


def _declared_type(record: ConsumerRecord[bytes, bytes], body: Mapping[str, Any]) -> Any:
    return header(record, "ce_type") or body.get("type") or body.get("eventType")


def decode(record: ConsumerRecord[bytes, bytes], topics: OrderTopics) -> tuple[str, dict[str, Any]]:
    """(event type, JSON object; numbers with a fraction as Decimal). Raises PoisonMessage."""
    body = _body(record)
    declared = _declared_type(record, body)
    topic_type = topics.per_event.get(record.topic)
    if topic_type is not None:
        if declared is not None and declared != topic_type:
            raise PoisonMessage(f"typed {declared!r} on the {topic_type} topic {record.topic!r}")
        return topic_type, body
    if not isinstance(declared, str) or not declared:
        raise PoisonMessage(
            f"no event type on {record.topic!r} (ce_type header, type or eventType field); "
            "the specification's header-less form goes to its per-event topic"
        )
    return declared, body
