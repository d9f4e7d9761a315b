"""What outbox rows written before revision 0016 hold: the event's neutral JSON `payload`
(its fields in camelCase, Money as {amountMinor, currency}, datetimes in ISO 8601, enums by
value), which the relay renders when it publishes them. Kept to write such rows in tests."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from domain.events import DomainEvent
from domain.money import Money


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _json_value(value: Any) -> Any:
    if isinstance(value, Money):
        return {"amountMinor": value.amount_minor, "currency": value.currency}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    return value


def legacy_payload(event: DomainEvent) -> dict[str, Any]:
    """The payload as the database returns it (through JSON: tuples are lists)."""
    fields = {f.name: _json_value(getattr(event, f.name)) for f in dataclasses.fields(event)}
    payload = {"type": event.event_type} | {_camel(k): v for k, v in fields.items()}
    return dict(json.loads(json.dumps(payload)))
