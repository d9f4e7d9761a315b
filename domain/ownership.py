"""A unit of work whose repositories apply the per-user access rule (access.py) to every
payment, refund and payment method they load, list or add.

Every use case reaches storage through its unit of work, so wrapping it once (in the
composition root) covers every RPC, present and future, instead of trusting each use case
to remember a check. Actors that may act for any user pay nothing: the checks are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from domain.access import ADMIN, confined_to, may_access, require_acting_for
from domain.actor import Actor
from domain.audit import AuditOutcome
from domain.changes import Aggregate
from domain.dispute_access import OwnedDisputes
from domain.errors import (
    PaymentAlreadyExists,
    PaymentMethodNotFound,
    PaymentNotFound,
    RefundNotFound,
)
from domain.events import DomainEvent
from domain.fx import FxQuote
from domain.pagination import Page, PageRequest
from domain.payment import Payment
from domain.payment_listing import PaymentQuery
from domain.payment_method import PaymentMethod
from domain.ports import (
    ConsumedEventLog,
    DisputeRepository,
    FxQuoteRepository,
    FxRateRepository,
    PaymentMethodRepository,
    PaymentRepository,
    RefundRepository,
    RetrySchedule,
    UnitOfWork,
    WebhookEventLog,
)
from domain.refund import Refund
from domain.transaction import Transaction

# The same errors, word for word, as the repositories raise for ids that do not exist.


def _no_payment(payment_id: str) -> PaymentNotFound:
    return PaymentNotFound("no such payment", metadata={"payment_id": payment_id})


def _no_refund(refund_id: str) -> RefundNotFound:
    return RefundNotFound("no such refund", metadata={"refund_id": refund_id})


def _no_method(payment_method_id: str) -> PaymentMethodNotFound:
    return PaymentMethodNotFound(
        "no such payment method", metadata={"payment_method_id": payment_method_id}
    )


def _visible(actor: Actor, payment: Payment | None) -> Payment | None:
    return payment if payment is None or may_access(actor, payment.user_id) else None


class OwnedPayments:
    def __init__(self, inner: PaymentRepository, actor: Actor) -> None:
        self._inner = inner
        self._actor = actor

    async def add(self, payment: Payment) -> None:
        require_acting_for(self._actor, payment.user_id)
        try:
            await self._inner.add(payment)
        except PaymentAlreadyExists as error:
            raise await self.told(error, payment.order_id) from None

    async def told(self, error: PaymentAlreadyExists, order_id: str) -> PaymentAlreadyExists:
        """The error as this actor may see it (the repository raises it from `add`, or the
        unit of work from its commit)."""
        existing = await self._inner.find_by_order(order_id)
        if existing is not None and not may_access(self._actor, existing.user_id):
            # The order is taken, but by whom and which payment is none of this user's
            # business: the same error without the other user's payment id.
            return PaymentAlreadyExists(error.message, metadata={"order_id": order_id})
        return error

    async def get(self, payment_id: str) -> Payment:
        payment = await self._inner.get(payment_id)
        if not may_access(self._actor, payment.user_id):
            raise _no_payment(payment_id)
        return payment

    async def get_for_update(self, payment_id: str) -> Payment:
        payment = await self._inner.get_for_update(payment_id)
        if not may_access(self._actor, payment.user_id):
            raise _no_payment(payment_id)
        return payment

    async def find_by_order(self, order_id: str) -> Payment | None:
        return _visible(self._actor, await self._inner.find_by_order(order_id))

    async def find_by_gateway_payment_id(self, gateway_payment_id: str) -> Payment | None:
        return _visible(
            self._actor, await self._inner.find_by_gateway_payment_id(gateway_payment_id)
        )

    async def find_by_gateway_transaction_id(self, reference: str) -> Payment | None:
        return _visible(self._actor, await self._inner.find_by_gateway_transaction_id(reference))

    def adopt(self, payment: Payment) -> None:
        if not may_access(self._actor, payment.user_id):
            raise _no_payment(payment.id)
        self._inner.adopt(payment)

    async def save(self, payment: Payment) -> None:
        if not may_access(self._actor, payment.user_id):
            raise _no_payment(payment.id)
        await self._inner.save(payment)

    async def find_open_operations(
        self, started_before: datetime, limit: int
    ) -> list[tuple[str, str]]:
        if confined_to(self._actor) is not None:
            return []  # the reconciler's question, never an end user's
        return await self._inner.find_open_operations(started_before, limit)

    async def search(self, query: PaymentQuery) -> Page[Payment]:
        # Whatever the filter or the page token say, an end user's listing reads only rows
        # with their own user_id: the restriction is part of the SQL, not a check afterwards.
        user = confined_to(self._actor)
        return await self._inner.search(query if user is None else query.confined_to(user))


class OwnedRefunds:
    """A refund belongs to the owner of its payment."""

    def __init__(self, inner: RefundRepository, payments: PaymentRepository, actor: Actor) -> None:
        self._inner = inner
        self._actor = actor
        self._payments = payments  # the unscoped repository: the check itself reads it

    async def _payment_visible(self, payment_id: str) -> bool:
        if confined_to(self._actor) is None:
            return True
        try:
            payment = await self._payments.get(payment_id)
        except PaymentNotFound:
            return False
        return may_access(self._actor, payment.user_id)

    async def add(self, refund: Refund) -> None:
        if not await self._payment_visible(refund.payment_id):
            raise _no_payment(refund.payment_id)
        await self._inner.add(refund)

    async def get(self, refund_id: str) -> Refund:
        refund = await self._inner.get(refund_id)
        if not await self._payment_visible(refund.payment_id):
            raise _no_refund(refund_id)
        return refund

    async def save(self, refund: Refund) -> None:
        if not await self._payment_visible(refund.payment_id):
            raise _no_refund(refund.id)
        await self._inner.save(refund)

    async def list_for_payment(self, payment_id: str, page: PageRequest) -> Page[Refund]:
        if not await self._payment_visible(payment_id):
            raise _no_payment(payment_id)
        return await self._inner.list_for_payment(payment_id, page)


class OwnedPaymentMethods:
    def __init__(self, inner: PaymentMethodRepository, actor: Actor) -> None:
        self._inner = inner
        self._actor = actor

    async def add(self, method: PaymentMethod) -> None:
        require_acting_for(self._actor, method.user_id)
        await self._inner.add(method)

    async def get(self, payment_method_id: str) -> PaymentMethod:
        method = await self._inner.get(payment_method_id)
        if not may_access(self._actor, method.user_id):
            raise _no_method(payment_method_id)
        return method

    async def list_for_user(self, user_id: str, page: PageRequest) -> Page[PaymentMethod]:
        if not may_access(self._actor, user_id):
            return Page([], None)  # only the caller's own rows, and another user has none
        return await self._inner.list_for_user(user_id, page)

    async def lock_user(self, user_id: str) -> list[PaymentMethod]:
        require_acting_for(self._actor, user_id)
        return await self._inner.lock_user(user_id)

    async def default_for_user(self, user_id: str) -> PaymentMethod | None:
        if not may_access(self._actor, user_id):
            return None
        return await self._inner.default_for_user(user_id)

    async def save(self, method: PaymentMethod) -> None:
        if not may_access(self._actor, method.user_id):
            raise _no_method(method.id)
        await self._inner.save(method)


class OwnedFxQuotes:
    """A quote is its requester's: another caller (unless an administrator) finds nothing,
    as if it did not exist."""

    def __init__(self, inner: FxQuoteRepository, actor: Actor) -> None:
        self._inner = inner
        self._actor = actor

    async def add(self, quote: FxQuote) -> None:
        await self._inner.add(quote)

    async def get(self, quote_id: str) -> FxQuote | None:
        quote = await self._inner.get(quote_id)
        if quote is None:
            return None
        if quote.owner != self._actor.subject and ADMIN not in self._actor.scopes:
            return None
        return quote


class OwnerScopedUnitOfWork:
    """Wraps any unit of work; the same object can be entered again, like the one inside."""

    def __init__(self, inner: UnitOfWork, actor: Actor) -> None:
        self._inner = inner
        self._actor = actor

    # Built on each access: the inner repositories belong to the current transaction.
    @property
    def payments(self) -> PaymentRepository:
        return OwnedPayments(self._inner.payments, self._actor)

    @property
    def refunds(self) -> RefundRepository:
        return OwnedRefunds(self._inner.refunds, self._inner.payments, self._actor)

    @property
    def payment_methods(self) -> PaymentMethodRepository:
        return OwnedPaymentMethods(self._inner.payment_methods, self._actor)

    @property
    def retries(self) -> RetrySchedule:
        return self._inner.retries

    @property
    def webhook_events(self) -> WebhookEventLog:
        return self._inner.webhook_events

    @property
    def disputes(self) -> DisputeRepository:
        return OwnedDisputes(self._inner.disputes, self._inner.payments, self._actor)

    @property
    def consumed_events(self) -> ConsumedEventLog:
        return self._inner.consumed_events

    @property
    def fx_rates(self) -> FxRateRepository:
        return self._inner.fx_rates  # reference data: the same for every caller

    @property
    def fx_quotes(self) -> FxQuoteRepository:
        return OwnedFxQuotes(self._inner.fx_quotes, self._actor)

    # Naming a change or recording a fact reveals nothing: they pass through whoever acts.
    def describe(
        self,
        aggregate: Aggregate,
        action: str,
        *,
        transaction: Transaction | None = None,
        outcome: AuditOutcome | None = None,
        reason: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self._inner.describe(
            aggregate, action, transaction=transaction, outcome=outcome, reason=reason, extra=extra
        )

    def fact(
        self,
        action: str,
        resource_type: str,
        resource_id: str,
        *,
        outcome: AuditOutcome = AuditOutcome.SUCCESS,
        reason: str | None = None,
        after: Mapping[str, Any] | None = None,
        events: list[DomainEvent] | None = None,
    ) -> None:
        self._inner.fact(
            action,
            resource_type,
            resource_id,
            outcome=outcome,
            reason=reason,
            after=after,
            events=events,
        )

    def conclude(self, result: object) -> None:
        self._inner.conclude(result)

    async def __aenter__(self) -> OwnerScopedUnitOfWork:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        try:
            await self._inner.commit()
        except PaymentAlreadyExists as error:
            payments = OwnedPayments(self._inner.payments, self._actor)
            raise await payments.told(error, error.metadata["order_id"]) from None
