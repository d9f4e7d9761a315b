"""The outbox's rows from before revision 0016. Events are written to the outbox by the unit
of work as it commits (infra/db/commit_writes.py), in their published form (value and
headers), so the relay ships bytes.

Rows written before revision 0016 hold a neutral JSON `payload` instead (camelCase fields of
the event, Money as {amountMinor, currency}, datetimes in ISO 8601, enums by value);
`legacy_event` reads one back into its event, which the relay then renders like a new one.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from domain.events import DomainEvent, event_classes
from domain.money import Money

# An event class and (field name, payload key, type) of each of its fields.
_Shape = tuple[type[DomainEvent], tuple[tuple[str, str, Any], ...]]


@functools.cache
def _shapes() -> dict[str, _Shape]:
    """Event classes by event type, with their fields."""
    shapes: dict[str, _Shape] = {}
    for cls in event_classes():
        hints = typing.get_type_hints(cls)
        fields = tuple((f.name, _camel(f.name), hints[f.name]) for f in dataclasses.fields(cls))
        shapes[cls.event_type] = (cls, fields)
    return shapes


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _field(kind: Any, value: Any) -> Any:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # an optional field
        if value is None:
            return None
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    if kind is Decimal:
        return Decimal(str(value))
    if kind is Money:
        return Money(int(value["amountMinor"]), str(value["currency"]))
    if kind is datetime:
        return _moment(value)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    # Plain fields: a missing or null text, count or list was published empty, as before.
    if kind is str:
        return "" if value is None else str(value)
    if kind is int:
        return int(value or 0)
    return tuple(value or ())


def legacy_event(event_type: str, payload: Mapping[str, Any]) -> DomainEvent:
    """The event a pre-0016 row's neutral payload describes."""
    shape = _shapes().get(event_type)
    if shape is None:
        raise ValueError(f"no event class for event type {event_type!r}")
    cls, fields = shape
    return cls(**{name: _field(kind, payload.get(key)) for name, key, kind in fields})
