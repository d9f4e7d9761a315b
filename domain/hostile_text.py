"""Text no field may carry, whatever the field: what PostgreSQL cannot store (NUL), what is
not Unicode (a lone surrogate, which only a JSON escape can make), and more of it than any
field of the contract needs. Refused where it comes in, naming the field, never echoing it:
the API's edge (server/card_guard.py walks every text field of a request once, for card data
and for this) and the order events' decoding (infra/messaging/order_topics.py).

The limits are a floor under the domain's own (description 500 characters, 50 metadata
keys ...): a field without a rule of its own still cannot carry a megabyte into a log line,
an audit entry or a row."""

from __future__ import annotations

import re

VIOLATION_REASON = "TEXT_NOT_ACCEPTED"
# Longer than any identifier, token, URL or free text the contract takes.
MAX_TEXT = 16_384
# More entries than any repeated or map field of the contract takes.
MAX_ENTRIES = 1_000

HAS_NUL = "must not contain NUL characters (U+0000)"
HAS_LONE_SURROGATE = "must be valid Unicode: no lone surrogate (U+D800-U+DFFF)"
TOO_LONG = f"must be at most {MAX_TEXT} characters"
TOO_MANY = f"must have at most {MAX_ENTRIES} entries"

_SURROGATE = re.compile("[\ud800-\udfff]")


def json_problems(value: object, path: str = "") -> list[tuple[str, str]]:
    """(path, problem) of each hostile string, key or oversized container in decoded JSON."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[object, str]] = [(value, path)]
    while stack:
        item, here = stack.pop()
        if isinstance(item, (dict, list)) and len(item) > MAX_ENTRIES:
            found.append((here, TOO_MANY))
        elif isinstance(item, dict):
            for key, inner in item.items():
                problem = text_problem(str(key))
                if problem is not None:  # the key is not shown: it is what is wrong
                    found.append((here, f"a key {problem}"))
                else:
                    stack.append((inner, f"{here}.{key}" if here else str(key)))
        elif isinstance(item, list):
            stack.extend((inner, f"{here}[{n}]") for n, inner in enumerate(item))
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                found.append((here, problem))
    return found


def text_problem(value: str) -> str | None:
    """Why `value` cannot be taken, or None. Protobuf strings are valid UTF-8 already (the
    parser refuses others), so only JSON can bring a surrogate: looked for everywhere, it
    costs one scan of text that is short."""
    if len(value) > MAX_TEXT:
        return TOO_LONG
    return unstorable(value)


def unstorable(value: str) -> str | None:
    """Why `value` cannot be stored as text, whatever its length, or None."""
    if "\x00" in value:
        return HAS_NUL
    if _SURROGATE.search(value):
        return HAS_LONE_SURROGATE
    return None
