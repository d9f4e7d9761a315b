"""What may enter the audit trail. Snapshots (domain/audit_records.py) already list only safe
fields; this is the second line: whatever a caller passes (admin tools, free-form reasons) is
scrubbed of card-like numbers, gateway tokens, bearer tokens and e-mail addresses, and fields
named like secrets are replaced whole. Values are reduced to plain JSON whose canonical form
survives a round trip through PostgreSQL's jsonb (no floats, no NUL characters)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

REDACTED = "[redacted]"

# 13 to 19 digits, optionally separated by single spaces or dashes, not part of a longer
# word or id (the digit groups of a UUID do not match: they continue with '-' and hex).
CARD_LIKE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Gateway tokens and keys (Stripe pm_/tok_/card_/src_/seti_/cus_, API keys, webhook secrets,
# PayPal billing agreements), JSON web tokens, and whatever follows "Bearer".
TOKEN = re.compile(
    r"\b(?:pm|tok|card|src|seti|cus|sk|pk|rk|whsec|ba|btok)_[A-Za-z0-9_]{3,}"
    r"|\beyJ[\w-]+\.[\w-]+\.[\w-]*"
    r"|(?i:bearer)\s+\S+"
)
# One pass over the text for all three.
SENSITIVE_TEXT = re.compile("|".join(f"(?:{p.pattern})" for p in (CARD_LIKE, EMAIL, TOKEN)))
SENSITIVE_KEY = re.compile(
    r"token|secret|password|passwd|e-?mail|cvc|cvv|card_?number|^pan$|authorization"
    r"|api_?key|customer",
    re.IGNORECASE,
)


# Texts already found clean (ids, statuses, codes: most of what an entry holds), so that each
# is scanned once per process. Only clean texts are kept, never one that held a card number,
# a token or an address; bounded by emptying it when full.
_CLEAN: dict[str, None] = {}
_CLEAN_MAX, _CLEAN_TEXT_MAX = 8192, 128


def redact_text(text: str) -> str:
    if text in _CLEAN:
        return text
    redacted = SENSITIVE_TEXT.sub(REDACTED, text.replace("\x00", ""))
    if redacted == text and len(text) <= _CLEAN_TEXT_MAX:
        if len(_CLEAN) >= _CLEAN_MAX:
            _CLEAN.clear()
        _CLEAN[text] = None
    return redacted


def _value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, Enum):
        return _value(value.value)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = [_value(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime | date):
        return value.isoformat()
    # Floats (never money here) and anything else: their text, so the hash stays stable.
    return redact_text(str(value))


def redact(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """A copy of `fields` safe to store in the audit trail."""
    return {
        str(key).replace("\x00", ""): REDACTED
        if SENSITIVE_KEY.search(str(key)) and value is not None
        else _value(value)
        for key, value in fields.items()
    }
