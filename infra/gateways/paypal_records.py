"""PayPal's records of a period, for the reconciliation report, from its Transaction Search
API (GET /v1/reporting/transactions, https://developer.paypal.com/docs/api/transaction-search/v1/):
one row per money event, classified by its T-code:

    T1300  authorization (transaction_id = the authorization)     -> the payment's record
    T1302  authorization void (paypal_reference_id = it)           -> CANCELLED
    T0006  capture, PayPal Checkout APIs (reference = the auth.)   -> captured, CAPTURED
    T1107  payment refund (reference = the capture)                -> refunded

A transaction search row does not name the order, which is our gateway_payment_id: each
authorization of the period is read once (GET /v2/payments/authorizations/{id}) for its
supplementary_data.related_ids.order_id. Searches cover at most 31 days each, so the window
from the period's start to now (refunds and captures come later) is searched in 31-day
slices, each paged (page_size 500). Only money held or moved is listed: orders never
authorized are not there (`lists_unsettled` is False). Amounts are decimals in the
currency's ISO 4217 exponent, turned into minor units exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from domain.errors import GatewayUnavailable
from domain.money import Money
from domain.reconciliation_report import PaymentRecord, RecordStatus
from infra.currency import Iso4217CurrencyCatalog
from infra.gateways.paypal_client import DEFAULT_TIMEOUT, PayPalClient, base_url_for

SEARCH = "/v1/reporting/transactions"
AUTHORIZATIONS = "/v2/payments/authorizations"
SLICE = timedelta(days=31)
PAGE_SIZE = 500
AUTHORIZATION, VOID, CAPTURE, REFUND = "T1300", "T1302", "T0006", "T1107"


@dataclass
class _Held:
    """One authorization as the search rows tell it, built up row by row."""

    currency: str
    amount_minor: int
    created_at: datetime
    denied: bool
    voided: bool = False
    captured_minor: int = 0
    refunded_minor: int = 0

    @property
    def status(self) -> RecordStatus:
        if self.denied:
            return RecordStatus.FAILED
        if self.captured_minor:
            return RecordStatus.CAPTURED
        return RecordStatus.CANCELLED if self.voided else RecordStatus.AUTHORIZED


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))


class PayPalRecordSource:
    lists_unsettled = False

    def __init__(self, client: PayPalClient) -> None:
        self._client = client
        self._currencies = Iso4217CurrencyCatalog()

    @classmethod
    def create(
        cls, client_id: str, client_secret: str, *, mode: str = "sandbox",
        base_url: str | None = None,
    ) -> PayPalRecordSource:  # fmt: skip
        return cls(PayPalClient(client_id, client_secret, base_url=base_url_for(mode, base_url),
                                timeout=DEFAULT_TIMEOUT))  # fmt: skip

    async def aclose(self) -> None:
        await self._client.aclose()

    def _minor(self, amount: dict[str, Any]) -> tuple[str, int]:
        currency = str(amount["currency_code"])
        exponent = self._currencies.exponent(currency)
        try:
            value = abs(Decimal(str(amount["value"])))
        except InvalidOperation:
            raise GatewayUnavailable(f"paypal: unreadable amount {amount!r}") from None
        if exponent is None:
            raise GatewayUnavailable(f"paypal: currency {currency} is not ISO 4217")
        return currency, Money.from_decimal(value, currency, exponent).amount_minor

    async def _rows(self, start: datetime, end: datetime) -> AsyncIterator[dict[str, Any]]:
        """Every transaction_info from start to end, slice by slice, page by page."""
        since = start
        while since < end:
            until = min(since + SLICE, end)
            page, pages = 1, 1
            while page <= pages:
                query = urlencode({
                    "start_date": since.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    "end_date": until.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    "fields": "transaction_info", "page_size": PAGE_SIZE, "page": page,
                })  # fmt: skip
                response = await self._client.get(f"{SEARCH}?{query}")
                if not response.ok:
                    raise GatewayUnavailable(
                        f"paypal: transaction search refused: {response.issue}"
                    )
                for detail in response.body.get("transaction_details") or ():
                    yield detail["transaction_info"]
                pages = int(response.body.get("total_pages") or 1)
                page += 1
            since = until

    async def _order_of(self, authorization_id: str) -> str:
        response = await self._client.get(f"{AUTHORIZATIONS}/{authorization_id}")
        related = (response.body.get("supplementary_data") or {}).get("related_ids") or {}
        return str(related.get("order_id") or authorization_id)

    async def records(self, start: datetime, end: datetime) -> AsyncIterator[PaymentRecord]:
        held: dict[str, _Held] = {}
        capture_of: dict[str, str] = {}  # capture id -> authorization id
        later: list[dict[str, Any]] = []  # refunds, applied once every capture is known
        async for row in self._rows(start, max(end, datetime.now(UTC))):
            code, reference = row.get("transaction_event_code"), row.get("paypal_reference_id")
            if code == AUTHORIZATION:
                currency, minor = self._minor(row["transaction_amount"])
                held[row["transaction_id"]] = _Held(
                    currency, minor, _time(row["transaction_initiation_date"]),
                    denied=row.get("transaction_status") == "D",
                )  # fmt: skip
            elif code == CAPTURE and reference in held and row.get("transaction_status") == "S":
                held[reference].captured_minor += self._minor(row["transaction_amount"])[1]
                capture_of[row["transaction_id"]] = reference
            elif code == VOID and reference in held:
                held[reference].voided = True
            elif code == REFUND:
                later.append(row)
        for row in later:
            authorization = capture_of.get(row.get("paypal_reference_id") or "")
            if authorization is not None and row.get("transaction_status") in ("S", "P"):
                held[authorization].refunded_minor += self._minor(row["transaction_amount"])[1]
        for authorization_id, found in held.items():
            if start <= found.created_at < end:
                yield PaymentRecord(
                    reference=await self._order_of(authorization_id),
                    currency=found.currency,
                    amount_minor=found.amount_minor,
                    captured_minor=found.captured_minor,
                    refunded_minor=found.refunded_minor,
                    status=found.status,
                    created_at=found.created_at,
                )
