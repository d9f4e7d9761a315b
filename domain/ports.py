"""The ports infra/ implements. Use cases depend on these, never on an adapter."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

from domain.audit import AuditOutcome
from domain.availability import AvailableMethod
from domain.changes import Aggregate
from domain.dispute import Dispute
from domain.dispute_listing import DisputeQuery
from domain.enums import GatewayName, PaymentMethodType, ScaExemption
from domain.events import DomainEvent
from domain.fx import ExchangeRate, FxQuote
from domain.gateway import PaymentGateway
from domain.pagination import Page, PageRequest
from domain.payment import Payment
from domain.payment_listing import PaymentQuery
from domain.payment_method import PaymentMethod
from domain.refund import Refund
from domain.retry import ScheduledRetry
from domain.transaction import Transaction
from domain.webhooks import WebhookReceipt


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> None:
        """Insert (at the latest when the unit of work commits); raises PaymentAlreadyExists,
        at the latest from the commit, when the order already has a payment."""

    async def get(self, payment_id: str) -> Payment:
        """Raises PaymentNotFound."""

    async def get_for_update(self, payment_id: str) -> Payment:
        """Loads and locks the payment until the unit of work ends. Raises PaymentNotFound."""

    async def find_by_order(self, order_id: str) -> Payment | None: ...

    async def find_by_gateway_payment_id(self, gateway_payment_id: str) -> Payment | None:
        """The payment the gateway knows by this id, locked until the unit of work ends."""

    async def find_by_gateway_transaction_id(self, reference: str) -> Payment | None:
        """The payment with an operation the gateway knows by this id (capture, charge ...),
        locked until the unit of work ends."""

    def adopt(self, payment: Payment) -> None:
        """Takes a payment this process saved in an earlier unit of work as it was stored,
        without reading it again; its version guards the next save."""

    async def save(self, payment: Payment) -> None:
        """Writes the payment and its transactions (at the latest when the unit of work
        commits); raises ConcurrentModification, at the latest from the commit, when the
        stored version is not the one loaded."""

    async def find_open_operations(
        self, started_before: datetime, limit: int
    ) -> list[tuple[str, str]]:
        """(payment id, transaction id) of PENDING or UNKNOWN operations, oldest first."""

    async def search(self, query: PaymentQuery) -> Page[Payment]:
        """One page of the payments matching the query, with their transactions, in the
        query's (created_at, id) order, after its cursor; next_cursor set when more follow."""


class RefundRepository(Protocol):
    async def add(self, refund: Refund) -> None: ...

    async def get(self, refund_id: str) -> Refund:
        """Raises RefundNotFound."""

    async def save(self, refund: Refund) -> None: ...

    async def list_for_payment(self, payment_id: str, page: PageRequest) -> Page[Refund]: ...


class PaymentMethodRepository(Protocol):
    async def add(self, method: PaymentMethod) -> None: ...

    async def get(self, payment_method_id: str) -> PaymentMethod:
        """A method that is not deleted; raises PaymentMethodNotFound."""

    async def list_for_user(self, user_id: str, page: PageRequest) -> Page[PaymentMethod]: ...

    async def lock_user(self, user_id: str) -> list[PaymentMethod]:
        """Locks and returns the user's live methods, serialising default changes."""

    async def default_for_user(self, user_id: str) -> PaymentMethod | None:
        """The user's live default method, None when there is none."""

    async def save(self, method: PaymentMethod) -> None: ...


class RetrySchedule(Protocol):
    async def schedule(self, retry: ScheduledRetry) -> None:
        """Insert or replace the retry of (payment, operation, target)."""

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[ScheduledRetry]:
        """Due retries, pushed `lease` into the future so that no other worker takes them
        meanwhile (a worker that dies simply lets the lease run out)."""

    async def remove(self, retry: ScheduledRetry) -> None: ...


class WebhookEventLog(Protocol):
    async def record(self, receipt: WebhookReceipt) -> bool:
        """Stores the receipt in the current transaction; False when (gateway, event id) was
        recorded before (a database constraint decides, also between concurrent deliveries)."""


class ConsumedEventLog(Protocol):
    """The inbox: ids of events consumed from other services, so a redelivery is a no-op."""

    async def seen(self, event_id: str) -> bool: ...

    async def record(self, event_id: str, topic: str, received_at: datetime) -> bool:
        """Stores the id in the current transaction; False when it was recorded before."""

    async def record_cancelled_order(self, order_id: str, cancelled_at: datetime) -> None:
        """Remembers an order cancelled before any payment existed for it, so that an
        order.confirmed delivered after its order.cancelled pays nothing."""

    async def is_order_cancelled(self, order_id: str) -> bool: ...


class DisputeRepository(Protocol):
    async def add(self, dispute: Dispute) -> None: ...

    async def find_by_gateway_id(self, gateway_dispute_id: str) -> Dispute | None: ...

    async def save(self, dispute: Dispute) -> None: ...

    async def list_for_payment(self, payment_id: str) -> list[Dispute]: ...

    async def get(self, dispute_id: str) -> Dispute:
        """Raises DisputeNotFound."""

    async def search(self, query: DisputeQuery) -> Page[Dispute]:
        """A page of ListDisputes, newest first (only `query.only_user`'s when set)."""


class FxRateRepository(Protocol):
    """The newest rate of each currency pair from each source (domain/fx.py)."""

    async def rates_of(self, base: str, quote: str) -> Sequence[ExchangeRate]:
        """The stored rates of exactly base/quote, one per source."""

    async def rates_among(self, currencies: Collection[str]) -> Sequence[ExchangeRate]:
        """Every stored rate whose base and quote are both among `currencies`, in one read:
        what resolving a pair (directly, inverted or crossed through EUR) may need."""

    async def put(self, rate: ExchangeRate) -> bool:
        """Stores `rate` as its source's rate of the pair unless that source already has one
        valid at a later time; True when stored."""

    async def list(self, page: PageRequest) -> Page[ExchangeRate]:
        """Every stored rate, in the order the pairs were first stored."""


class FxQuoteRepository(Protocol):
    async def add(self, quote: FxQuote) -> None: ...

    async def get(self, quote_id: str) -> FxQuote | None: ...


class FxRateFeed(Protocol):
    """A published source of rates (the ECB reference rates)."""

    async def fetch(self) -> Sequence[ExchangeRate]: ...


class FxRates(Protocol):
    """The rate a pair uses now, with its source and as_of (domain/fx.py `resolve`), or
    FxRateUnavailable. For settlement: the same rule everywhere a conversion happens."""

    async def rate(self, base: str, quote: str) -> ExchangeRate: ...


class UnitOfWork(Protocol):
    """One database transaction. `async with uow:` begins; leaving without `commit()` rolls
    back. The same object can be entered again for a new transaction.

    The unit of work owns the side effects (domain/changes.py): its repositories remember
    what they load and write, and `commit()` writes, in the same transaction, the events of
    every aggregate written to the outbox and one audit entry per change, as the actor the
    unit of work was built for. Use cases only `describe` what a change was."""

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def refunds(self) -> RefundRepository: ...

    @property
    def payment_methods(self) -> PaymentMethodRepository: ...

    @property
    def retries(self) -> RetrySchedule: ...

    @property
    def webhook_events(self) -> WebhookEventLog: ...

    @property
    def disputes(self) -> DisputeRepository: ...

    @property
    def consumed_events(self) -> ConsumedEventLog: ...

    @property
    def fx_rates(self) -> FxRateRepository: ...

    @property
    def fx_quotes(self) -> FxQuoteRepository: ...

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
        """Names the change just made to `aggregate` for the audit trail (ChangeTracker)."""

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
        """An audited fact that changes no aggregate (and its events, if any)."""

    def conclude(self, result: object) -> None:
        """The request's final result (the payment; a refund and its payment; a final
        DomainError): when the request carries an idempotency key, its answer is stored with
        the key in this transaction. Nothing otherwise."""

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC."""


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new unique id (UUID string)."""


class CurrencyCatalog(Protocol):
    def exponent(self, code: str) -> int | None:
        """ISO 4217 minor-unit exponent of a supported currency, None when unsupported."""


class CircuitBreaker(Protocol):
    """Per-gateway health shared by every replica: after repeated failures a gateway is
    skipped ("open") for a while instead of being called."""

    async def is_open(self, gateway: GatewayName) -> bool: ...

    async def record_failure(self, gateway: GatewayName) -> None: ...

    async def record_success(self, gateway: GatewayName) -> None: ...


class NoCircuitBreaker:
    """Every gateway is always tried."""

    async def is_open(self, gateway: GatewayName) -> bool:
        return False

    async def record_failure(self, gateway: GatewayName) -> None:
        return None

    async def record_success(self, gateway: GatewayName) -> None:
        return None


class GatewayDirectory(Protocol):
    def get(self, name: GatewayName) -> PaymentGateway:
        """Raises GatewayUnavailable when that gateway is not configured."""

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
        """Configured gateways for a new payment, in routing order (the first takes it, the
        others are its failover order), among those declaring they take it (and can request
        `sca_exemption`). Raises PaymentMethodUnavailable (no gateway takes the type),
        NoGatewayAvailable or ScaExemptionUnsupported. Pure computation over configuration:
        no I/O."""

    def available(self, country: str, currency: str, amount_minor: int) -> list[AvailableMethod]:
        """Every payment method type, with its gateways, that a payment from `country` in
        `currency` could be made with (ListAvailablePaymentMethods). No I/O."""
