"""Stripe's records of a period, for the reconciliation report, from its list APIs: the
PaymentIntents created in the window (GET /v1/payment_intents?created[gte]&created[lt]) and
the refunds created since its start (GET /v1/refunds?created[gte]), both paged with the
SDK's auto-paging iterator. Amounts come back in ISO 4217 minor units (stripe_amounts.py).

PaymentIntents are read in full before they are yielded: their refunds are listed once for
the whole window and matched to them by payment_intent, instead of one call per intent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import stripe

from domain.reconciliation_report import PaymentRecord, RecordStatus
from infra.gateways.stripe_amounts import from_stripe_minor

_PAGE = 100
# Refunds that gave money back, or will.
_REFUNDED = ("succeeded", "pending", "requires_action")


def record_status(intent: Any) -> RecordStatus:
    status = intent.status
    if status == "requires_capture":
        return RecordStatus.AUTHORIZED
    if status == "succeeded":
        return RecordStatus.CAPTURED
    if status == "canceled":
        return RecordStatus.CANCELLED
    if status == "requires_payment_method" and getattr(intent, "last_payment_error", None):
        return RecordStatus.FAILED  # declined: Stripe waits for another method, we failed it
    return RecordStatus.PENDING


def _minor(amount: int | None, currency: str) -> int:
    converted = from_stripe_minor(amount or 0, currency)
    return converted or 0


class StripeRecordSource:
    lists_unsettled = True  # declined and waiting payments are listed too

    def __init__(self, api_key: str, *, base_url: str = "https://api.stripe.com") -> None:
        self._http = stripe.HTTPXClient()
        self._client = stripe.StripeClient(
            api_key, base_addresses={"api": base_url}, http_client=self._http,
            max_network_retries=2,  # reads only: retrying cannot act twice
        )  # fmt: skip

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def _refunded(self, since: int) -> dict[str, int]:
        """Stripe's refunded amount by PaymentIntent id, in Stripe's units."""
        refunded: dict[str, int] = defaultdict(int)
        page = await self._client.v1.refunds.list_async({"created": {"gte": since}, "limit": _PAGE})
        async for refund in page.auto_paging_iter():
            intent = refund.payment_intent
            intent_id = intent if isinstance(intent, str) or intent is None else intent.id
            if intent_id and refund.status in _REFUNDED:
                refunded[intent_id] += refund.amount
        return refunded

    async def records(self, start: datetime, end: datetime) -> AsyncIterator[PaymentRecord]:
        since, until = int(start.timestamp()), int(end.timestamp()) + 1  # whole seconds
        page = await self._client.v1.payment_intents.list_async(
            {"created": {"gte": since, "lt": until}, "limit": _PAGE}
        )
        intents = [intent async for intent in page.auto_paging_iter()]
        refunded = await self._refunded(since)
        for intent in intents:
            currency = intent.currency.upper()
            yield PaymentRecord(
                reference=intent.id,
                currency=currency,
                amount_minor=_minor(intent.amount, currency),
                captured_minor=_minor(getattr(intent, "amount_received", 0), currency),
                refunded_minor=_minor(refunded.get(intent.id, 0), currency),
                status=record_status(intent),
                created_at=datetime.fromtimestamp(intent.created, UTC),
            )
