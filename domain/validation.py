"""Field checks shared by commands. Each returns violations instead of raising, so a request
reports every bad field at once."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from domain.errors import FieldViolation
from domain.money import CURRENCY_CODE, MAX_AMOUNT_MINOR

TOKEN = re.compile(r"^[A-Za-z0-9_\-.:]{1,255}\Z")  # \Z: "$" would accept a trailing newline
_DIGIT_RUN = re.compile(r"\d(?:[ \-]?\d)*")
_SEPARATOR = re.compile(r"[ \-]")

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


def contains_card_number(text: str) -> bool:
    """A Luhn-valid run of 13-19 digits, with or without spaces or dashes, looks like a PAN.

    Any consecutive groups of a run count, not only the whole run: "4242 4242 4242 4242 123"
    (number and CVC) holds a PAN although its 19 digits together fail Luhn."""
    for match in _DIGIT_RUN.finditer(text):
        groups = _SEPARATOR.split(match.group())
        for start in range(len(groups)):
            digits = ""
            for group in groups[start:]:
                digits += group
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and luhn_valid(digits):
                    return True
    return False


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
