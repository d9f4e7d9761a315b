"""The ECB euro foreign exchange reference rates: the daily XML feed (FX_ECB_URL).

The document is a gesmes:Envelope holding <Cube><Cube time="YYYY-MM-DD"><Cube currency="USD"
rate="1.0842"/>...</Cube></Cube>: how many units of each currency one euro buys on that
reference date. The rates are set at the ECB's daily concertation at 14:10 Frankfurt time, so
that is each rate's `as_of`.

Parsed with the standard library's ElementTree, which expands entities declared in a DTD (the
"billion laughs"): a document carrying a DTD (and so any entity declaration) is refused
before parsing, as is anything that is not UTF-8 or larger than MAX_DOCUMENT_BYTES.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import httpx

from domain.fx import EUR, ExchangeRate, RateSource
from domain.money import CURRENCY_CODE
from domain.ports import Clock

ECB_DAILY_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
NAMESPACE = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
# The daily document is about 1.6 kB; anything much larger is not it.
MAX_DOCUMENT_BYTES = 256 * 1024
CONCERTATION = time(14, 10, tzinfo=ZoneInfo("Europe/Berlin"))
_FORBIDDEN = ("<!DOCTYPE", "<!ENTITY")


class EcbFeedInvalid(Exception):
    """The feed answered something that is not a reference rates document."""


def parse_reference_rates(document: bytes, fetched_at: datetime) -> list[ExchangeRate]:
    """EUR/xxx rates of the document's (single) reference day."""
    if len(document) > MAX_DOCUMENT_BYTES:
        raise EcbFeedInvalid(f"document larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        text = document.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EcbFeedInvalid("document is not UTF-8") from exc
    if any(marker in text.upper() for marker in _FORBIDDEN):
        raise EcbFeedInvalid("document declares a DTD or entities: refused")
    try:
        # Encoded again: ElementTree reads the XML declaration's encoding from bytes.
        root = ET.fromstring(text.encode("utf-8"))  # noqa: S314 - no DTD (checked above)
    except ET.ParseError as exc:
        raise EcbFeedInvalid(f"not well-formed XML: {exc}") from exc
    days = root.findall(f"{NAMESPACE}Cube/{NAMESPACE}Cube[@time]")
    if len(days) != 1:
        raise EcbFeedInvalid(f"expected one reference day, found {len(days)}")
    day = days[0]
    try:
        as_of = datetime.combine(date.fromisoformat(day.attrib["time"]), CONCERTATION)
    except ValueError as exc:
        raise EcbFeedInvalid(f"bad reference date {day.attrib['time']!r}") from exc
    rates = [_rate(cube, as_of, fetched_at) for cube in day.findall(f"{NAMESPACE}Cube")]
    if not rates:
        raise EcbFeedInvalid("the reference day holds no rates")
    return rates


def _rate(cube: ET.Element, as_of: datetime, fetched_at: datetime) -> ExchangeRate:
    currency, text = cube.get("currency", ""), cube.get("rate", "")
    if not CURRENCY_CODE.match(currency) or currency == EUR:
        raise EcbFeedInvalid(f"bad currency {currency!r}")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise EcbFeedInvalid(f"bad rate {text!r} for {currency}") from exc
    if not value.is_finite() or value <= 0:
        raise EcbFeedInvalid(f"bad rate {text!r} for {currency}")
    return ExchangeRate(EUR, currency, value, RateSource.ECB.value, as_of, fetched_at)


class EcbRateFeed:
    """The FxRateFeed port over HTTP."""

    def __init__(self, client: httpx.AsyncClient, url: str, clock: Clock) -> None:
        self._client = client
        self._url = url
        self._clock = clock

    async def fetch(self) -> Sequence[ExchangeRate]:
        response = await self._client.get(self._url, headers={"accept": "application/xml"})
        response.raise_for_status()
        return parse_reference_rates(response.content, self._clock.now())
