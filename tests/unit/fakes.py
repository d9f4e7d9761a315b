"""In-memory fakes of the ports in `domain.ports` and `domain.gateway`.

They follow the Protocol docstrings, because a fake that is kinder than the real adapter hides
bugs: repositories hand out deep copies, writes are only visible to other transactions after
`commit()`, leaving `async with uow:` without a commit discards them, a stale `version` raises
ConcurrentModification, and touching a repository outside a transaction is an error.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import random
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, TypeVar

from domain.actor import SYSTEM, Actor
from domain.audit import AuditOutcome
from domain.audit_chain import GENESIS, ChainedEntry, chain
from domain.availability import AvailableMethod
from domain.changes import Aggregate, ChangeTracker
from domain.dispute import Dispute
from domain.dispute_access import no_dispute
from domain.dispute_listing import DisputeQuery
from domain.enums import GatewayName, NextActionType, PaymentMethodType, ScaExemption
from domain.errors import (
    ConcurrentModification,
    GatewayOutcomeUnknown,
    GatewayUnavailable,
    PaymentAlreadyExists,
    PaymentMethodNotFound,
    PaymentNotFound,
    RefundNotFound,
    ScaExemptionUnsupported,
)
from domain.events import DomainEvent
from domain.fx import ExchangeRate, FxQuote, rate_cursor
from domain.gateway import (
    AttachRequest,
    AuthorizationRequest,
    ConfirmRequest,
    GatewayCapabilities,
    GatewayOperationRequest,
    GatewayOutcome,
    LookupRequest,
    MethodSupport,
    NextAction,
    OutcomeStatus,
    PaymentMethodDetails,
)
from domain.money import Money
from domain.pagination import Cursor, Page, PageRequest
from domain.payment import Payment
from domain.payment_amounts import PaymentAmounts
from domain.payment_listing import PaymentQuery, filter_values
from domain.payment_method import PaymentMethod
from domain.refund import Refund
from domain.retry import RetryPolicy, ScheduledRetry
from domain.risk import RiskAssessor, RiskSignalUnavailable, RiskSubject
from domain.transaction import Transaction
from domain.usecases.deps import Deps
from domain.webhooks import WebhookReceipt

T = TypeVar("T")

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


# --- time and ids ----------------------------------------------------------------------------
class FixedClock:
    """Always the same instant until a test moves it with `advance`."""

    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta = timedelta(seconds=1)) -> None:
        self.current += delta


class AdvancingClock(FixedClock):
    """Every reading is `step` after the previous one: timestamps are strictly increasing."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(seconds=1)) -> None:
        super().__init__(start)
        self.step = step

    def now(self) -> datetime:
        value = self.current
        self.current += self.step
        return value


class SequentialIds:
    """UUID strings 00000000-0000-0000-0000-000000000001, ...002, ... in order."""

    def __init__(self, first: int = 1) -> None:
        self._next = itertools.count(first)
        self.issued: list[str] = []

    def new_id(self) -> str:
        value = str(uuid.UUID(int=next(self._next)))
        self.issued.append(value)
        return value


def user_id(n: int) -> str:
    """A user id that can never collide with an id from SequentialIds."""
    return str(uuid.UUID(f"aaaaaaaa-0000-4000-8000-{n:012d}"))


def order_id(n: int) -> str:
    return str(uuid.UUID(f"0bde0bde-0000-4000-8000-{n:012d}"))


class FakeCurrencyCatalog:
    EXPONENTS = {"EUR": 2, "USD": 2, "JPY": 0, "KWD": 3, "GBP": 2}

    def exponent(self, code: str) -> int | None:
        return self.EXPONENTS.get(code)


# --- persistence -----------------------------------------------------------------------------
@dataclass
class InMemoryDatabase:
    """Committed rows. Several FakeUnitOfWork objects may share one, like connections."""

    payments: dict[str, Payment] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    payment_methods: dict[str, PaymentMethod] = field(default_factory=dict)
    outbox: list[DomainEvent] = field(default_factory=list)
    # (payment id, operation, target id) -> the retry; None marks a removed one.
    retries: dict[str, ScheduledRetry | None] = field(default_factory=dict)
    # "GATEWAY/event id" -> the receipt (the primary key of webhook_events).
    webhook_events: dict[str, WebhookReceipt] = field(default_factory=dict)
    disputes: dict[str, Dispute] = field(default_factory=dict)
    # event id -> topic (the inbox, consumed_events)
    consumed_events: dict[str, str] = field(default_factory=dict)
    # order id -> when it was cancelled (before any payment existed)
    cancelled_orders: dict[str, datetime] = field(default_factory=dict)
    # The audit trail, chained at commit like the real one.
    audit: list[ChainedEntry] = field(default_factory=list)
    # "BASE/QUOTE/source" -> the newest rate of that pair from that source.
    fx_rates: dict[str, ExchangeRate] = field(default_factory=dict)
    fx_quotes: dict[str, FxQuote] = field(default_factory=dict)


def _paginate(items: Iterable[T], page: PageRequest, key: Callable[[T], Cursor]) -> Page[T]:
    """Keyset pagination ordered by (created_at, id), oldest first, as the Cursor describes."""
    ordered = sorted(items, key=lambda item: (key(item).created_at, key(item).id))
    if page.after is not None:
        after = (page.after.created_at, page.after.id)
        ordered = [item for item in ordered if (key(item).created_at, key(item).id) > after]
    chosen = ordered[: page.size]
    more = len(ordered) > page.size
    return Page(copy.deepcopy(chosen), key(chosen[-1]) if more and chosen else None)


class _Repository:
    table: str

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def _rows(self) -> dict[str, Any]:
        """Committed rows overlaid with this transaction's writes (no copies: internal)."""
        return {**getattr(self._uow.db, self.table), **self._uow._writes(self.table)}

    def _row(self, key: str) -> Any | None:
        return self._rows().get(key)

    def _write(self, key: str, row: Any) -> None:
        self._uow._writes(self.table)[key] = copy.deepcopy(row)

    def _loaded(self, row: Any) -> Any:
        """A copy of a stored aggregate, known to the unit of work's change tracker."""
        loaded = copy.deepcopy(row)
        self._uow.changes.loaded(loaded)
        return loaded


class FakePaymentRepository(_Repository):
    table = "payments"

    def _write(self, key: str, row: Any) -> None:
        # Recorded events are not state: they go to the outbox, never into the payment row.
        super()._write(key, row)
        self._uow._writes(self.table)[key].events = []

    async def add(self, payment: Payment) -> None:
        if self._row(payment.id) is not None:
            raise AssertionError(f"duplicate primary key {payment.id}")
        existing = await self.find_by_order(payment.order_id)
        if existing is not None:
            raise PaymentAlreadyExists(
                f"order {payment.order_id} already has a payment",
                metadata={"order_id": payment.order_id, "payment_id": existing.id},
            )
        self._write(payment.id, payment)
        self._uow.changes.added(payment)

    async def get(self, payment_id: str) -> Payment:
        row: Payment | None = self._row(payment_id)
        if row is None:
            raise PaymentNotFound("no such payment", metadata={"payment_id": payment_id})
        loaded: Payment = self._loaded(row)
        return loaded

    async def get_for_update(self, payment_id: str) -> Payment:
        return await self.get(payment_id)  # one transaction at a time: nothing to lock

    async def find_by_order(self, order_id: str) -> Payment | None:
        rows: list[Payment] = list(self._rows().values())
        for row in rows:
            if row.order_id == order_id:
                found: Payment = self._loaded(row)
                return found
        return None

    async def find_by_gateway_payment_id(self, gateway_payment_id: str) -> Payment | None:
        rows: list[Payment] = list(self._rows().values())
        for row in rows:
            if row.gateway_payment_id == gateway_payment_id:
                found: Payment = self._loaded(row)
                return found
        return None

    async def find_by_gateway_transaction_id(self, reference: str) -> Payment | None:
        rows: list[Payment] = list(self._rows().values())
        for row in rows:
            if any(t.gateway_transaction_id == reference for t in row.transactions):
                found: Payment = self._loaded(row)
                return found
        return None

    def adopt(self, payment: Payment) -> None:
        self._uow.changes.loaded(payment)

    async def save(self, payment: Payment) -> None:
        stored = self._row(payment.id)
        if stored is None:
            raise PaymentNotFound("no such payment", metadata={"payment_id": payment.id})
        if stored.version != payment.version:
            raise ConcurrentModification(
                "the payment was changed by someone else",
                metadata={"payment_id": payment.id},
            )
        payment.version += 1  # like an ORM's version counter, on the caller's object too
        self._write(payment.id, payment)
        self._uow.changes.saved(payment)

    async def find_open_operations(
        self, started_before: datetime, limit: int
    ) -> list[tuple[str, str]]:
        payments: list[Payment] = list(self._rows().values())
        found = sorted(
            (txn.created_at, payment.id, txn.id)
            for payment in payments
            for txn in payment.transactions
            if txn.is_open and txn.created_at < started_before
        )
        return [(payment_id, txn_id) for _, payment_id, txn_id in found[:limit]]

    async def search(self, query: PaymentQuery) -> Page[Payment]:
        rows: list[Payment] = [
            p
            for p in self._rows().values()
            if query.filter.matches(filter_values(p))
            and (query.only_user is None or p.user_id == query.only_user)
        ]
        ordered = sorted(rows, key=lambda p: (p.created_at, p.id), reverse=query.descending)
        if query.after is not None:
            after = (query.after.created_at, query.after.id)
            ordered = [
                p
                for p in ordered
                if ((p.created_at, p.id) < after) == query.descending
                and (p.created_at, p.id) != after
            ]
        chosen = ordered[: query.size]
        last = chosen[-1] if len(ordered) > query.size and chosen else None
        return Page(
            [self._loaded(p) for p in chosen], Cursor(last.created_at, last.id) if last else None
        )


class FakeRefundRepository(_Repository):
    table = "refunds"

    async def add(self, refund: Refund) -> None:
        if self._row(refund.id) is not None:
            raise AssertionError(f"duplicate primary key {refund.id}")
        self._write(refund.id, refund)
        self._uow.changes.added(refund)

    async def get(self, refund_id: str) -> Refund:
        row: Refund | None = self._row(refund_id)
        if row is None:
            raise RefundNotFound("no such refund", metadata={"refund_id": refund_id})
        loaded: Refund = self._loaded(row)
        return loaded

    async def save(self, refund: Refund) -> None:
        if self._row(refund.id) is None:
            raise RefundNotFound("no such refund", metadata={"refund_id": refund.id})
        self._write(refund.id, refund)
        self._uow.changes.saved(refund)

    async def list_for_payment(self, payment_id: str, page: PageRequest) -> Page[Refund]:
        rows = [r for r in self._rows().values() if r.payment_id == payment_id]
        return _paginate(rows, page, lambda r: Cursor(r.created_at, r.id))


class FakePaymentMethodRepository(_Repository):
    table = "payment_methods"

    def _live(self) -> list[PaymentMethod]:
        return [m for m in self._rows().values() if not m.is_deleted]

    async def add(self, method: PaymentMethod) -> None:
        if self._row(method.id) is not None:
            raise AssertionError(f"duplicate primary key {method.id}")
        self._write(method.id, method)
        self._uow.changes.added(method)

    async def get(self, payment_method_id: str) -> PaymentMethod:
        row: PaymentMethod | None = self._row(payment_method_id)
        if row is None or row.is_deleted:
            raise PaymentMethodNotFound(
                "no such payment method", metadata={"payment_method_id": payment_method_id}
            )
        loaded: PaymentMethod = self._loaded(row)
        return loaded

    async def list_for_user(self, user_id: str, page: PageRequest) -> Page[PaymentMethod]:
        rows = [m for m in self._live() if m.user_id == user_id]
        return _paginate(rows, page, lambda m: Cursor(m.created_at, m.id))

    async def lock_user(self, user_id: str) -> list[PaymentMethod]:
        rows = sorted(
            (m for m in self._live() if m.user_id == user_id), key=lambda m: (m.created_at, m.id)
        )
        return [self._loaded(row) for row in rows]

    async def default_for_user(self, user_id: str) -> PaymentMethod | None:
        for method in self._live():
            if method.user_id == user_id and method.is_default:
                found: PaymentMethod = self._loaded(method)
                return found
        return None

    async def save(self, method: PaymentMethod) -> None:
        if self._row(method.id) is None:
            raise PaymentMethodNotFound(
                "no such payment method", metadata={"payment_method_id": method.id}
            )
        self._write(method.id, method)
        self._uow.changes.saved(method)


class FakeRetrySchedule(_Repository):
    table = "retries"

    @staticmethod
    def _key(retry: ScheduledRetry) -> str:
        return f"{retry.payment_id}/{retry.operation.value}/{retry.target_id}"

    def scheduled(self) -> list[ScheduledRetry]:
        return [r for r in self._rows().values() if r is not None]

    async def schedule(self, retry: ScheduledRetry) -> None:
        self._write(self._key(retry), retry)

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[ScheduledRetry]:
        due = sorted((r for r in self.scheduled() if r.run_at <= now), key=lambda r: r.run_at)
        claimed = [dataclasses.replace(r, run_at=now + lease) for r in due[:limit]]
        for retry in claimed:
            self._write(self._key(retry), retry)
        return claimed

    async def remove(self, retry: ScheduledRetry) -> None:
        current = self._row(self._key(retry))
        if current is not None and current.attempt == retry.attempt:
            self._write(self._key(retry), None)


class FakeWebhookEventLog(_Repository):
    table = "webhook_events"

    async def record(self, receipt: WebhookReceipt) -> bool:
        key = f"{receipt.gateway.value}/{receipt.event_id}"
        if self._row(key) is not None:
            return False
        self._write(key, receipt)
        return True


class FakeConsumedEventLog(_Repository):
    table = "consumed_events"

    async def seen(self, event_id: str) -> bool:
        return self._row(event_id) is not None

    async def record(self, event_id: str, topic: str, received_at: datetime) -> bool:
        if self._row(event_id) is not None:
            return False
        self._write(event_id, topic)
        return True

    async def record_cancelled_order(self, order_id: str, cancelled_at: datetime) -> None:
        self._uow._writes("cancelled_orders").setdefault(order_id, cancelled_at)

    async def is_order_cancelled(self, order_id: str) -> bool:
        return order_id in {
            **self._uow.db.cancelled_orders,
            **self._uow._writes("cancelled_orders"),
        }


class FakeDisputeRepository(_Repository):
    table = "disputes"

    def _write(self, key: str, row: Any) -> None:
        # Recorded events are not state: they go to the outbox, never into the dispute row.
        super()._write(key, row)
        self._uow._writes(self.table)[key].events = []

    async def add(self, dispute: Dispute) -> None:
        if any(d.gateway_dispute_id == dispute.gateway_dispute_id for d in self._rows().values()):
            raise AssertionError(f"duplicate gateway dispute {dispute.gateway_dispute_id}")
        self._write(dispute.id, dispute)
        self._uow.changes.added(dispute)

    async def find_by_gateway_id(self, gateway_dispute_id: str) -> Dispute | None:
        for row in self._rows().values():
            if row.gateway_dispute_id == gateway_dispute_id:
                found: Dispute = self._loaded(row)
                return found
        return None

    async def save(self, dispute: Dispute) -> None:
        self._write(dispute.id, dispute)
        self._uow.changes.saved(dispute)

    async def list_for_payment(self, payment_id: str) -> list[Dispute]:
        rows = [d for d in self._rows().values() if d.payment_id == payment_id]
        return copy.deepcopy(sorted(rows, key=lambda d: (d.created_at, d.id)))

    async def get(self, dispute_id: str) -> Dispute:
        row = self._row(dispute_id)
        if row is None:
            raise no_dispute(dispute_id)
        found: Dispute = self._loaded(row)
        return found

    async def search(self, query: DisputeQuery) -> Page[Dispute]:
        """Newest first; the filter's equality comparisons on status and payment_id only
        (the SQL adapter's own tests cover the rest)."""
        owners = {p.id: p.user_id for p in self._uow.db.payments.values()}

        def wanted(d: Dispute) -> bool:
            values = {"status": d.status, "payment_id": d.payment_id}
            return all(
                (values.get(c.field) == c.value) == (c.op == "=")
                for c in query.filter.comparisons
                if c.field in values
            ) and (query.only_user is None or owners.get(d.payment_id) == query.only_user)

        ordered = sorted(
            (d for d in self._rows().values() if wanted(d)),
            key=lambda d: (d.created_at, d.id),
            reverse=True,
        )
        if query.after is not None:
            after = (query.after.created_at, query.after.id)
            ordered = [d for d in ordered if (d.created_at, d.id) < after]
        chosen = ordered[: query.size]
        last = chosen[-1] if len(ordered) > query.size and chosen else None
        return Page(
            [self._loaded(d) for d in chosen], Cursor(last.created_at, last.id) if last else None
        )


class FakeFxRateRepository(_Repository):
    table = "fx_rates"

    async def rates_of(self, base: str, quote: str) -> list[ExchangeRate]:
        return [r for r in self._rows().values() if (r.base, r.quote) == (base, quote)]

    async def rates_among(self, currencies: Collection[str]) -> list[ExchangeRate]:
        return [r for r in self._rows().values() if {r.base, r.quote} <= set(currencies)]

    async def put(self, rate: ExchangeRate) -> bool:
        key = f"{rate.base}/{rate.quote}/{rate.source}"
        current: ExchangeRate | None = self._row(key)
        if current is not None and current.as_of > rate.as_of:
            return False
        self._write(key, rate)
        return True

    async def list(self, page: PageRequest) -> Page[ExchangeRate]:
        return _paginate(self._rows().values(), page, rate_cursor)


class FakeFxQuoteRepository(_Repository):
    table = "fx_quotes"

    async def add(self, quote: FxQuote) -> None:
        self._write(quote.id, quote)

    async def get(self, quote_id: str) -> FxQuote | None:
        found: FxQuote | None = self._row(quote_id)
        return found


class FakeUnitOfWork:
    """One transaction at a time; re-entrant after exit, never nested."""

    def __init__(self, db: InMemoryDatabase | None = None, actor: Actor = SYSTEM) -> None:
        self.db = db if db is not None else InMemoryDatabase()
        self.actor = actor
        self._pending: dict[str, dict[str, Any]] | None = None
        self.commits = 0
        self.rollbacks = 0
        self._concluded: object | None = None
        # Results the use cases concluded with, in the order their transactions committed.
        self.concluded: list[object] = []
        self._payments = FakePaymentRepository(self)
        self._refunds = FakeRefundRepository(self)
        self._payment_methods = FakePaymentMethodRepository(self)
        self._retries = FakeRetrySchedule(self)
        self._webhook_events = FakeWebhookEventLog(self)
        self._disputes = FakeDisputeRepository(self)
        self._consumed_events = FakeConsumedEventLog(self)
        self._fx_rates = FakeFxRateRepository(self)
        self._fx_quotes = FakeFxQuoteRepository(self)
        self.changes = ChangeTracker(actor, lambda: START)

    # Repositories only exist inside a transaction, as with a real session.
    @property
    def payments(self) -> FakePaymentRepository:
        self._require_active()
        return self._payments

    @property
    def refunds(self) -> FakeRefundRepository:
        self._require_active()
        return self._refunds

    @property
    def payment_methods(self) -> FakePaymentMethodRepository:
        self._require_active()
        return self._payment_methods

    @property
    def retries(self) -> FakeRetrySchedule:
        self._require_active()
        return self._retries

    @property
    def webhook_events(self) -> FakeWebhookEventLog:
        self._require_active()
        return self._webhook_events

    @property
    def disputes(self) -> FakeDisputeRepository:
        self._require_active()
        return self._disputes

    @property
    def consumed_events(self) -> FakeConsumedEventLog:
        self._require_active()
        return self._consumed_events

    @property
    def fx_rates(self) -> FakeFxRateRepository:
        self._require_active()
        return self._fx_rates

    @property
    def fx_quotes(self) -> FakeFxQuoteRepository:
        self._require_active()
        return self._fx_quotes

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
        self._require_active()
        self.changes.describe(
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
        self._require_active()
        self.changes.fact(
            action,
            resource_type,
            resource_id,
            outcome=outcome,
            reason=reason,
            after=after,
            events=events,
        )

    def conclude(self, result: object) -> None:
        """What the use case answered in this transaction (tests read `concluded`)."""
        self._require_active()
        self._concluded = result

    @property
    def active(self) -> bool:
        return self._pending is not None

    def _require_active(self) -> None:
        if self._pending is None:
            raise RuntimeError("repository used outside `async with uow:`")

    def _writes(self, table: str) -> dict[str, Any]:
        self._require_active()
        assert self._pending is not None
        return self._pending[table]

    async def __aenter__(self) -> FakeUnitOfWork:
        if self._pending is not None:
            raise RuntimeError("unit of work entered while already in a transaction")
        self._pending = defaultdict(dict)
        self.changes = ChangeTracker(self.actor, lambda: START)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        uncommitted = self._pending is not None and any(self._pending.values())
        if uncommitted:
            self.rollbacks += 1  # discarded
        self._pending = None
        self._concluded = None

    async def commit(self) -> None:
        self._require_active()
        assert self._pending is not None
        events, entries = self.changes.collect()
        for table, rows in self._pending.items():
            getattr(self.db, table).update(rows)
        self.db.outbox.extend(copy.deepcopy(events))
        head = self.db.audit[-1] if self.db.audit else None
        self.db.audit.extend(
            chain(entries, head.seq if head else 0, head.hash if head else GENESIS)
        )
        self._pending = defaultdict(dict)
        self.changes = ChangeTracker(self.actor, lambda: START)
        if self._concluded is not None:
            self.concluded.append(self._concluded)
            self._concluded = None
        self.commits += 1

    # --- test helpers: read committed state without a transaction ----------------------
    def committed_payment(self, payment_id: str) -> Payment:
        return copy.deepcopy(self.db.payments[payment_id])

    def committed_refund(self, refund_id: str) -> Refund:
        return copy.deepcopy(self.db.refunds[refund_id])

    def committed_method(self, payment_method_id: str) -> PaymentMethod:
        return copy.deepcopy(self.db.payment_methods[payment_method_id])

    def committed_retries(self) -> list[ScheduledRetry]:
        return [r for r in self.db.retries.values() if r is not None]

    def event_types(self) -> list[str]:
        return [event.event_type for event in self.db.outbox]

    def audit_actions(self, resource_id: str | None = None) -> list[str]:
        """Committed audit actions in order, of one resource when given."""
        return [
            row.entry.action
            for row in self.db.audit
            if resource_id is None or row.entry.resource_id == resource_id
        ]


# --- gateways --------------------------------------------------------------------------------
Operation = Literal[
    "authorize",
    "confirm",
    "capture",
    "void",
    "refund",
    "lookup",
    "describe_payment_method",
    "attach_to_customer",
]
Answer = GatewayOutcome | Exception


@dataclass(frozen=True, slots=True)
class GatewayCall:
    operation: Operation
    request: (
        AuthorizationRequest
        | AttachRequest
        | ConfirmRequest
        | GatewayOperationRequest
        | LookupRequest
        | tuple[str, PaymentMethodType]
    )


def declined(code: str = "CARD_DECLINED", reason: str = "Your card was declined.") -> Answer:
    return GatewayOutcome.declined(code, reason)


def requires_action(url: str = "https://3ds.example/challenge/1") -> Answer:
    return GatewayOutcome(
        OutcomeStatus.REQUIRES_ACTION,
        "gw_authorize_3ds",
        next_action=NextAction(NextActionType.REDIRECT_TO_URL, url),
    )


def unavailable() -> Answer:
    return GatewayUnavailable("connection refused before the request was sent")


def outcome_unknown() -> Answer:
    return GatewayOutcomeUnknown("timed out after the request was sent")


class FakeGateway:
    """Answers SUCCEEDED unless told otherwise with `will(operation, answer, ...)`.

    Scripted answers are used once each, in order. Every call is recorded in `calls`, and
    `on_call` (if set) runs at call time, for checks such as "no transaction is open now".
    """

    def __init__(
        self,
        name: GatewayName = GatewayName.SIMULATOR,
        capabilities: GatewayCapabilities | None = None,
    ) -> None:
        self._name = name
        # Every method type but crypto, in any currency, unless told otherwise.
        self._capabilities = capabilities or GatewayCapabilities(
            tuple(MethodSupport(t) for t in PaymentMethodType if t is not PaymentMethodType.CRYPTO),
            sca_exemptions=frozenset(ScaExemption),
        )
        self.calls: list[GatewayCall] = []
        self.on_call: Callable[[GatewayCall], None] | None = None
        self._script: dict[str, deque[Answer]] = defaultdict(deque)
        self._references = itertools.count(1)
        self.method_details: dict[str, PaymentMethodDetails] = {}

    @property
    def name(self) -> GatewayName:
        return self._name

    @property
    def capabilities(self) -> GatewayCapabilities:
        return self._capabilities

    def will(self, operation: Operation, *answers: Answer) -> None:
        self._script[operation].extend(answers)

    def calls_to(self, operation: Operation) -> list[GatewayCall]:
        return [call for call in self.calls if call.operation == operation]

    def _record(self, call: GatewayCall) -> Answer | None:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        queue = self._script[call.operation]
        return queue.popleft() if queue else None

    async def _operate(
        self,
        operation: Operation,
        request: AuthorizationRequest | ConfirmRequest | GatewayOperationRequest,
    ) -> GatewayOutcome:
        answer = self._record(GatewayCall(operation, request))
        if answer is None:
            return GatewayOutcome.succeeded(f"gw_{operation}_{next(self._references)}")
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def authorize(self, request: AuthorizationRequest) -> GatewayOutcome:
        return await self._operate("authorize", request)

    async def confirm(self, request: ConfirmRequest) -> GatewayOutcome:
        return await self._operate("confirm", request)

    async def capture(self, request: GatewayOperationRequest) -> GatewayOutcome:
        return await self._operate("capture", request)

    async def void(self, request: GatewayOperationRequest) -> GatewayOutcome:
        return await self._operate("void", request)

    async def refund(self, request: GatewayOperationRequest) -> GatewayOutcome:
        return await self._operate("refund", request)

    async def lookup(self, request: LookupRequest) -> GatewayOutcome | None:
        """Scripted like the other operations; unscripted, the gateway never saw it."""
        answer = self._record(GatewayCall("lookup", request))
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def attach_to_customer(self, request: AttachRequest) -> str | None:
        self._record(GatewayCall("attach_to_customer", request))
        return request.customer_reference or f"cus_{request.owner_id[:8]}"

    async def describe_payment_method(
        self, token: str, method_type: PaymentMethodType
    ) -> PaymentMethodDetails:
        answer = self._record(GatewayCall("describe_payment_method", (token, method_type)))
        if isinstance(answer, Exception):
            raise answer
        if token in self.method_details:
            return self.method_details[token]
        if method_type.is_card:
            return PaymentMethodDetails(method_type, "visa", "4242", 12, 2030)
        if method_type is PaymentMethodType.PAYPAL:
            return PaymentMethodDetails(method_type, paypal_email="buyer@example.com")
        return PaymentMethodDetails(method_type)


class FakeGatewayDirectory:
    """Routes to the requested gateway, else to `default`; unconfigured names are unavailable."""

    def __init__(self, *gateways: FakeGateway, default: GatewayName = GatewayName.SIMULATOR):
        self.gateways = {g.name: g for g in gateways}
        self.default = default
        self.choices: list[tuple[PaymentMethodType, str, GatewayName | None]] = []

    def get(self, name: GatewayName) -> FakeGateway:
        try:
            return self.gateways[name]
        except KeyError:
            raise GatewayUnavailable(
                f"gateway {name.value} is not configured", metadata={"gateway": name.value}
            ) from None

    def candidates(
        self,
        method_type: PaymentMethodType,
        currency: str,
        country: str,
        requested: GatewayName | None,
        amount_minor: int = 0,
        *,
        sca_exemption: ScaExemption | None = None,
    ) -> list[GatewayName]:
        self.choices.append((method_type, currency, requested))
        chosen = requested if requested is not None else self.default
        if sca_exemption is not None and (
            sca_exemption not in self.gateways[chosen].capabilities.sca_exemptions
        ):
            raise ScaExemptionUnsupported(
                f"{chosen.value} cannot request {sca_exemption.value}",
                metadata={"gateway": chosen.value, "sca_exemption": sca_exemption.value},
            )
        return [chosen]

    def available(self, country: str, currency: str, amount_minor: int) -> list[AvailableMethod]:
        return [
            AvailableMethod(t, self.default)
            for t in PaymentMethodType
            if self.gateways[self.default].capabilities.takes(t, currency, country, amount_minor)
        ]


# --- fraud checks ----------------------------------------------------------------------------
class FakeVelocityCounter:
    """Sliding windows in memory, on the test's clock, with the Redis adapter's semantics: a
    member counts once per key (adding it again refreshes it). `down` makes it unreachable."""

    def __init__(self, clock: FixedClock) -> None:
        self._clock = clock
        self.windows: dict[str, dict[str, datetime]] = defaultdict(dict)
        self.down = False
        self.calls = 0

    async def count(self, keys: Iterable[str], member: str, window: timedelta) -> list[int]:
        self.calls += 1
        if self.down:
            raise RiskSignalUnavailable("velocity store unreachable")
        now = self._clock.now()
        counts = []
        for key in keys:
            seen = self.windows[key]
            for old in [m for m, at in seen.items() if at <= now - window]:
                del seen[old]
            seen[member] = now
            counts.append(len(seen))
        return counts


class FakeRiskScorer:
    """Answers `score` (or raises RiskSignalUnavailable when it is None); records subjects."""

    def __init__(self, score: int | None = 0) -> None:
        self.next_score = score
        self.subjects: list[RiskSubject] = []

    async def score(self, subject: RiskSubject) -> int:
        self.subjects.append(subject)
        if self.next_score is None:
            raise RiskSignalUnavailable("scorer timed out")
        return self.next_score


# --- everything a use case needs -------------------------------------------------------------
@dataclass
class FakePorts:
    uow: FakeUnitOfWork = field(default_factory=FakeUnitOfWork)
    gateway: FakeGateway = field(default_factory=FakeGateway)
    clock: FixedClock = field(default_factory=AdvancingClock)
    ids: SequentialIds = field(default_factory=SequentialIds)
    currencies: FakeCurrencyCatalog = field(default_factory=FakeCurrencyCatalog)
    directory: FakeGatewayDirectory = field(init=False)
    # No automatic retries unless a test asks for them.
    retry_policy: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=0))
    # No fraud check unless a test installs one (e.g. a domain.risk_engine.RiskEngine).
    risk: RiskAssessor | None = None

    def __post_init__(self) -> None:
        self.directory = FakeGatewayDirectory(self.gateway)

    # Who acts in the use cases run with `deps` (the edge's choice, as in the server).
    actor: Actor = SYSTEM

    @property
    def deps(self) -> Deps:
        return self.deps_for(self.actor)

    def deps_for(self, actor: Actor) -> Deps:
        """The ports for `actor`; the unit of work (shared, one transaction at a time) acts
        for it until the next call."""
        self.uow.actor = actor
        return Deps(
            self.uow,
            self.directory,
            self.clock,
            self.ids,
            self.currencies,
            retry_policy=self.retry_policy,
            rng=random.Random(1),
            risk=self.risk,
            actor=actor,
        )

    @contextmanager
    def acting_as(self, actor: Actor) -> Iterator[Actor]:
        """Use cases run with `deps` inside the block act for `actor`."""
        previous, self.actor = self.actor, actor
        try:
            yield actor
        finally:
            self.actor = previous


# --- builders --------------------------------------------------------------------------------
def new_payment(
    amount_minor: int = 10_000,
    currency: str = "EUR",
    *,
    payment_id: str = "11111111-1111-4111-8111-111111111111",
    token: str | None = "pm_card_visa",
    gateway: GatewayName = GatewayName.SIMULATOR,
) -> Payment:
    """A PENDING payment, as create_payment builds it."""
    return Payment(
        id=payment_id,
        order_id=order_id(1),
        user_id=user_id(1),
        amounts=PaymentAmounts.of(Money(amount_minor, currency)),
        payment_method_type=PaymentMethodType.CREDIT_CARD,
        gateway=gateway,
        created_at=START,
        updated_at=START,
        payment_method_token=token,
    )
