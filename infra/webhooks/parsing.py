"""Careful reading of a webhook's JSON: wrong shapes become WebhookPayloadInvalid."""

from __future__ import annotations

import json
from typing import Any

from domain.errors import WebhookPayloadInvalid
from domain.hostile_text import unstorable

MAX_ID_LENGTH = 255


def load_event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadInvalid("the webhook body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookPayloadInvalid("the webhook body is not a JSON object")
    return event


def obj(value: Any, key: str) -> dict[str, Any]:
    """A nested object, or an empty one."""
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


def text(value: Any, key: str) -> str | None:
    """A string we read (and may store): NUL or a lone surrogate refuses the event, as
    PostgreSQL would, but with the field named. The rest of the payload is stored sealed
    (bytes), whatever it holds."""
    found = value.get(key) if isinstance(value, dict) else None
    if isinstance(found, dict):  # Stripe may expand an id into its object
        found = found.get("id")
    if not isinstance(found, str) or not found:
        return None
    problem = unstorable(found)
    if problem is not None:
        raise WebhookPayloadInvalid(f"the webhook event's {key} {problem}")
    return found[:MAX_ID_LENGTH]


def integer(value: Any, key: str) -> int | None:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def required_text(value: Any, key: str) -> str:
    found = text(value, key)
    if found is None:
        raise WebhookPayloadInvalid(f"the webhook event has no {key}")
    return found
