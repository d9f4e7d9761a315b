"""Log redaction: the last line of defence, so that no log line carries a card number, a
credential or a secret (PCI DSS 3.3, 3.4, 8.3), whatever code logs it - ours, a library's,
or an exception's text.

`RedactingFilter` is installed on every handler at start-up (server/logs.py). It renders each
record's message with its arguments, masks it, and masks the exception and stack texts and
every extra attribute; the record leaves the filter with nothing left to format from raw
values (args are dropped, the exception text is cached already masked).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

from domain.validation import mask_card_numbers
from server.card_digits import may_hold_card_number

MASK = "****"

# Names whose values are secrets wherever they appear: key=value, "key": "value", key: value.
_HIDDEN_WORDS = (
    r"(?:secret|password|passwd|pwd|token|api[_\-]?key|apikey|"
    r"access[_\-]?key|private[_\-]?key|credential|session[_\-]?id|cookie)"
)
_HIDDEN_NAMES = rf"[A-Za-z0-9_.\-]*{_HIDDEN_WORDS}[A-Za-z0-9_.\-]*"
_Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]
_RULES: tuple[_Rule, ...] = (
    # Authorization headers, as text or as a metadata tuple ('authorization', 'Basic ...').
    (
        re.compile(r"(?i)(\b(?:proxy-)?authorization[\"']?\s*[:=,]\s*[\"']?)[^\"'\r\n]+"),
        rf"\g<1>{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), rf"\g<1> {MASK}"),
    (re.compile(r"\b(Basic)\s+[A-Za-z0-9+/]{8,}=*"), rf"\g<1> {MASK}"),
    # JWTs anywhere (header.payload.signature, base64url; the header always starts "eyJ").
    (re.compile(r"\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*"), f"{MASK}jwt"),
    # Stripe secret and restricted keys, webhook signing secrets.
    (re.compile(r"\b((?:sk|rk)_(?:live|test)_)[A-Za-z0-9]+"), rf"\g<1>{MASK}"),
    (re.compile(r"\b(whsec_)[A-Za-z0-9+/=]+"), rf"\g<1>{MASK}"),
    # Passwords in URLs: scheme://user:password@host.
    (re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)[^@\s/]+@"), rf"\g<1>{MASK}@"),
    # Values of secret-named keys: password=..., "api_key": "...", token: ...
    (
        re.compile(rf"(?i)(\b{_HIDDEN_NAMES}[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}}\]]+"),
        rf"\g<1>{MASK}",
    ),
)
_HIDDEN_KEY = re.compile(rf"(?i)\A{_HIDDEN_NAMES}\Z")
# What each rule above needs in a text to change anything: its literal part, in lower case
# (rule 8's names all hold one of the last eight; "key" stands for api_key, apikey,
# access-key, private_key). A text that holds none of them, nor 13 digits in a row for a card
# number (server/card_digits.py), is returned as it is after two quick searches instead of
# nine passes that would change nothing: most log lines are such texts.
_TRIGGER_WORDS = re.compile(
    "|".join(
        re.escape(word)
        for word in (
            "authorization", "bearer", "basic", "eyj", "_live_", "_test_", "whsec_", "://",
            "secret", "passw", "pwd", "token", "key", "credential", "session", "cookie",
        )
    )
)  # fmt: skip


def _may_need_masking(text: str) -> bool:
    if not text.isascii():
        # Ignoring case, the rules also match some letters outside ASCII (U+017F, the long
        # s, for "s"; U+0130 for "i"), which lower() does not map: such texts go through
        # every rule.
        return True
    return _TRIGGER_WORDS.search(text.lower()) is not None or may_hold_card_number(text)


def redact(text: str) -> str:
    """`text` with card numbers reduced to their last four digits and every credential,
    secret and authorization value masked."""
    if not _may_need_masking(text):
        return text
    return redact_fully(text)


def redact_fully(text: str) -> str:
    """`redact` without its first look: every rule run over the text."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return mask_card_numbers(text)


@functools.lru_cache(maxsize=1024)
def _is_hidden_name(name: str) -> bool:
    """Asked for every extra field of every line; the names are mostly the code's own, and
    the cache is bounded for those that are not (keys of a logged dict)."""
    return _HIDDEN_KEY.match(name) is not None


def redact_value(value: Any, name: str = "") -> Any:
    """A logged value, masked: whole when its name says it is a secret, else its text."""
    if name and _is_hidden_name(name) and value not in (None, ""):
        return MASK
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(item) for item in value]
    return redact(value if isinstance(value, str) else str(value))


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}


class RedactingFilter(logging.Filter):
    """Masks a record in place (message, arguments, exception, stack, extras) and lets it
    through. Idempotent: a record that went through two handlers is masked once more, safely."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what can be shown of it
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        # The exception object itself would let a formatter render it again, unmasked.
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD:
                setattr(record, name, redact_value(value, name))
        return True


def install(handler: logging.Handler) -> None:
    """Adds the filter to `handler` once."""
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


def install_everywhere() -> None:
    """The filter on every handler that exists: the root logger's and any library's."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            install(handler)
