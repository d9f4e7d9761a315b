"""Field checks shared by commands. Each returns violations instead of raising, so a request
reports every bad field at once."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from domain.errors import FieldViolation
from domain.money import CURRENCY_CODE, MAX_AMOUNT_MINOR

TOKEN = re.compile(r"^[A-Za-z0-9_\-.:]{1,255}\Z")  # \Z: "$" would accept a trailing newline
_DIGIT_RUN = re.compile(r"\d(?:[ \-]?\d)*")
_SEPARATOR = re.compile(r"[ \-]")
# A UUID written canonically is an id, not a PAN, although an all-digit one (the 8-4-4 groups
# of 11111111-1111-4111-…) can pass Luhn: about one random UUID in ten thousand would.
_UUID = re.compile(
    r"(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
    r"[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])"
)

MAX_DESCRIPTION = 500
MAX_REASON = 500
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class CardNumberRun:
    """A run of digits (with spaces or dashes) holding a card number: where it is in the text
    and the last four digits of the number, the most of it that may ever be shown."""

    start: int
    end: int
    last4: str


def _pan_in(groups: list[str]) -> str | None:
    """The first Luhn-valid 13-19 digits made of consecutive groups, if any."""
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_valid(digits):
                return digits
    return None


def card_number_runs(text: str) -> Iterator[CardNumberRun]:
    """Every run of digits in `text` that holds a card number: a Luhn-valid run of 13-19
    digits, with or without spaces or dashes, anywhere in the text.

    Any consecutive groups of a run count, not only the whole run: "4242 4242 4242 4242 123"
    (number and CVC) holds a PAN although its 19 digits together fail Luhn. Canonical UUIDs
    are ids and never count."""
    searched = _UUID.sub(lambda m: "x" * len(m.group()), text)  # same length: same offsets
    for match in _DIGIT_RUN.finditer(searched):
        pan = _pan_in(_SEPARATOR.split(match.group()))
        if pan is not None:
            yield CardNumberRun(match.start(), match.end(), pan[-4:])


def contains_card_number(text: str) -> bool:
    """A Luhn-valid run of 13-19 digits, with or without spaces or dashes, looks like a PAN."""
    return next(card_number_runs(text), None) is not None


def mask_card_numbers(text: str) -> str:
    """`text` with each run holding a card number replaced by `****` and its last four digits
    (PCI DSS 3.4: at most the last four digits are shown)."""
    masked, kept = [], 0
    for run in card_number_runs(text):
        masked += [text[kept : run.start], f"****{run.last4}"]
        kept = run.end
    return "".join(masked) + text[kept:]


# Names of sensitive authentication data and of the PAN (PCI DSS 3.3): a field or key so named
# is refused whatever it holds. Words are compared whole ("pan" but not "company"), phrases
# inside the name with its separators removed ("cardNumber", "card-number", "cc_card_no").
_CARD_NAME_WORDS = frozenset(
    {"pan", "cvc", "cvc2", "cvv", "cvv2", "cvn", "csc", "cav2", "pin", "track1", "track2"}
)
_CARD_NAME_PHRASES = (
    "cardnumber",
    "cardnum",
    "cardno",
    "ccnumber",
    "ccnum",
    "securitycode",
    "cardverification",
    "primaryaccountnumber",
    "trackdata",
    "magstripe",
    "pinblock",
)
_CAMEL_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_WORD = re.compile(r"[a-z0-9]+")


def is_card_field_name(name: str) -> bool:
    """True for names like card_number, pan, cvc, cvv2, securityCode, Card-Number."""
    words = _WORD.findall(_CAMEL_BOUNDARY.sub(r"\1_\2", name).lower())
    if any(word in _CARD_NAME_WORDS for word in words):
        return True
    joined = "".join(words)
    return any(phrase in joined for phrase in _CARD_NAME_PHRASES)


def require_uuid(field: str, value: str, *, required: bool = True) -> list[FieldViolation]:
    if not value:
        return [FieldViolation(field, "is required", "REQUIRED")] if required else []
    try:
        uuid.UUID(value)
    except ValueError:
        return [FieldViolation(field, "must be a UUID")]
    return []


def require_amount(field: str, value: int) -> list[FieldViolation]:
    if value <= 0:
        return [FieldViolation(field, "must be a positive number of minor units")]
    if value > MAX_AMOUNT_MINOR:
        return [FieldViolation(field, f"must be at most {MAX_AMOUNT_MINOR}")]
    return []


def require_currency_code(field: str, value: str) -> list[FieldViolation]:
    if not value:
        return [FieldViolation(field, "is required", "REQUIRED")]
    if not CURRENCY_CODE.match(value):
        return [FieldViolation(field, "must be a three-letter ISO 4217 code in upper case")]
    return []


def check_token(field: str, value: str) -> list[FieldViolation]:
    if contains_card_number(value):
        return [FieldViolation(field, "raw card numbers are not accepted", "RAW_CARD_DATA")]
    if not TOKEN.match(value):
        return [FieldViolation(field, "must be a gateway token such as pm_card_visa")]
    return []


def check_text(field: str, value: str, max_length: int) -> list[FieldViolation]:
    if len(value) > max_length:
        return [FieldViolation(field, f"must be at most {max_length} characters")]
    if contains_card_number(value):
        return [FieldViolation(field, "must not contain a card number", "RAW_CARD_DATA")]
    return []


MAX_URL = 2048


def check_return_url(field: str, value: str) -> list[FieldViolation]:
    """Optional; an absolute https URL (http only for local development hosts)."""
    if not value:
        return []
    local = value.startswith(("http://localhost", "http://127.0.0.1"))
    if len(value) > MAX_URL or not (value.startswith("https://") or local) or " " in value:
        return [FieldViolation(field, "must be an absolute https:// URL")]
    return []


COUNTRY = re.compile(r"^[A-Z]{2}\Z")


def check_country(field: str, value: str) -> list[FieldViolation]:
    if value and not COUNTRY.match(value):
        return [FieldViolation(field, "must be an ISO 3166-1 alpha-2 code such as DE")]
    return []


def check_metadata(field: str, metadata: Mapping[str, str]) -> list[FieldViolation]:
    if len(metadata) > MAX_METADATA_KEYS:
        return [FieldViolation(field, f"must have at most {MAX_METADATA_KEYS} keys")]
    violations: list[FieldViolation] = []
    for key, value in metadata.items():
        if contains_card_number(key):  # reported without the key: never echo a card number
            violations.append(
                FieldViolation(field, "keys must not contain a card number", "RAW_CARD_DATA")
            )
            continue
        if not key or len(key) > MAX_METADATA_KEY:
            violations.append(
                FieldViolation(f"{field}[{key}]", f"keys are 1-{MAX_METADATA_KEY} characters")
            )
        violations += check_text(f"{field}[{key}]", value, MAX_METADATA_VALUE)
    return violations
