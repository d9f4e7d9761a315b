"""A cheap first look for card numbers, for the checks that run on every call (the card
guard, the log redaction filter).

domain.validation decides exactly (canonical UUIDs aside, a Luhn-valid 13-19 digits among
the consecutive groups of one run of digits separated by single spaces or dashes) but costs
a UUID substitution and a few regular expressions per text. Such a number always shows as
13 digits in a row, each pair separated by at most one space or dash: a text without that
holds no card number, and almost no text of a call (ids, tokens, currencies) has it."""

from __future__ import annotations

import re

from domain.validation import contains_card_number

THIRTEEN_DIGITS = re.compile(r"\d(?:[ \-]?\d){12}")


def may_hold_card_number(text: str) -> bool:
    """False only when `text` cannot hold a card number."""
    return THIRTEEN_DIGITS.search(text) is not None


def holds_card_number(text: str) -> bool:
    """Exactly domain.validation.contains_card_number, quicker on the texts of a call."""
    return may_hold_card_number(text) and contains_card_number(text)
