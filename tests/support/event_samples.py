"""Domain events for the tests of their published form: one fixed sample of each class, and
a hypothesis strategy for any event of any class (built from the dataclass fields, so a new
event class is covered without touching this module)."""

from __future__ import annotations

import dataclasses
import typing
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from domain.enums import PaymentMethodType
from domain.events import (
    DomainEvent,
    PaymentAuthorized,
    PaymentCancelled,
    PaymentDisputeClosed,
    PaymentDisputed,
    PaymentFailed,
    PaymentRefunded,
    PaymentRequiresAction,
    PaymentRequiresReview,
    PaymentSucceeded,
    event_classes,
)
from domain.money import MAX_AMOUNT_MINOR, Money

ONE = Decimal(1)  # the rate of an amount settled in its own currency
MOMENT = datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=UTC)
EVENT_ID = "0b7f3b1e-0000-4000-8000-000000000001"
PAYMENT_ID = "0b7f3b1e-0000-4000-8000-000000000002"


def sample_events(
    event_id: str = EVENT_ID, payment_id: str = PAYMENT_ID, order_id: str = "order-1"
) -> list[DomainEvent]:
    """One event of each class (all fields filled)."""
    common = (event_id, payment_id, order_id, MOMENT)
    card = PaymentMethodType.CREDIT_CARD
    return [
        PaymentAuthorized(*common, Money(1099, "EUR"), card, "txn-1", Money(1099, "EUR"), ONE),
        PaymentSucceeded(
            *common, Money(150000, "HUF"), card, "txn-2", Money(375, "EUR"), Decimal("0.0025")
        ),
        PaymentRefunded(*common, "refund-1", Money(1234, "KWD"), "txn-3", Money(1234, "KWD"), ONE),
        PaymentFailed(*common, "declined", "CARD_DECLINED", 2),
        PaymentCancelled(*common, "customer asked"),
        PaymentRequiresAction(*common, "https://example.test/3ds"),
        PaymentRequiresReview(*common, ("AMOUNT_OVER_REVIEW_LIMIT", "VELOCITY_USER")),
        PaymentDisputed(*common, "dispute-1", Money(1099, "EUR"), "fraudulent", "OPENED", "STRIPE"),
        PaymentDisputeClosed(
            *common, "dispute-1", Money(1234, "KWD"), "fraudulent", "LOST", "PAYPAL", "LOST", MOMENT
        ),
    ]


def fresh_events(order_id: str | None = None) -> list[DomainEvent]:
    """sample_events() of a new payment (and order), each with its own id, one millisecond
    apart from now on: rows the outbox orders as listed."""
    start = datetime.now(UTC)
    events = sample_events(payment_id=str(uuid.uuid4()), order_id=order_id or str(uuid.uuid4()))
    return [
        dataclasses.replace(e, event_id=str(uuid.uuid4()), occurred_at=start + i * _MILLISECOND)
        for i, e in enumerate(events)
    ]


_MILLISECOND = timedelta(milliseconds=1)
# Text as the domain has it: anything but lone surrogates (quotes, controls, non-ASCII...).
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
# Currencies with 0, 2 and 3 ISO 4217 decimals.
moneys = st.builds(
    Money,
    st.integers(0, MAX_AMOUNT_MINOR),
    st.sampled_from(["EUR", "JPY", "KWD", "IQD", "HUF", "USD", "CLP", "BHD"]),
)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
# Rates as the domain keeps them: positive, at most 18 significant digits.
rates = st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal(100_000), places=6, allow_nan=False
)
_BY_TYPE: dict[Any, st.SearchStrategy[Any]] = {
    Money | None: st.none() | moneys,
    Decimal | None: st.none() | rates,
    str: texts,
    int: st.integers(0, 2**31 - 1),
    Money: moneys,
    datetime: moments,
    PaymentMethodType: st.sampled_from(PaymentMethodType),
    tuple[str, ...]: st.lists(texts, max_size=4).map(tuple),
}


def events_of(cls: type[DomainEvent]) -> st.SearchStrategy[DomainEvent]:
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: _BY_TYPE[hints[f.name]] for f in dataclasses.fields(cls)})


def any_events() -> st.SearchStrategy[DomainEvent]:
    return st.one_of([events_of(cls) for cls in sorted(event_classes(), key=str)])
