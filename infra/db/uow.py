"""The unit of work: one database transaction per `async with`, and its side effects.

Its repositories report what they load and write to a ChangeTracker (domain/changes.py);
`commit()` writes the events of the aggregates written to the outbox and their audit
entries, in the same transaction, as the actor the unit of work was built for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from domain.actor import SYSTEM, Actor
from domain.audit import AuditOutcome
from domain.changes import Aggregate, ChangeTracker
from domain.errors import StorageUnavailable
from domain.events import DomainEvent
from domain.transaction import Transaction
from infra.db import commit_writes
from infra.db.commit_writes import CommitWrites
from infra.db.engine import is_connection_failure
from infra.db.fx import SqlFxQuoteRepository, SqlFxRateRepository
from infra.db.repositories import (
    SqlPaymentMethodRepository,
    SqlPaymentRepository,
    SqlRefundRepository,
)
from infra.db.request_claim import RequestClaim
from infra.db.retries import SqlRetrySchedule
from infra.db.sealing import Sealer
from infra.db.webhooks import SqlConsumedEventLog, SqlDisputeRepository, SqlWebhookEventLog
from infra.messaging.wire import RenderEvent


class SqlUnitOfWork:
    """Re-enterable, one transaction at a time. Not shared between concurrent requests: build
    one per request (it is cheap; connections come from the engine's pool)."""

    payments: SqlPaymentRepository
    refunds: SqlRefundRepository
    payment_methods: SqlPaymentMethodRepository
    retries: SqlRetrySchedule
    webhook_events: SqlWebhookEventLog
    disputes: SqlDisputeRepository
    consumed_events: SqlConsumedEventLog
    fx_rates: SqlFxRateRepository
    fx_quotes: SqlFxQuoteRepository

    def __init__(
        self,
        engine: AsyncEngine,
        sealer: Sealer,
        render: RenderEvent,
        actor: Actor = SYSTEM,
        request: RequestClaim | None = None,
    ) -> None:
        self._engine = engine
        # Encrypts and decrypts the sensitive columns (the key ring lives behind it).
        self._sealer = sealer
        # Renders events into their published form as the outbox stores them.
        self._render = render
        self._actor = actor
        # The keyed request this unit of work serves: claimed and answered in its
        # transactions (request_claim.py).
        self._request = request
        self._changes = ChangeTracker(actor, _utc_now)
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._conn is not None:
            raise RuntimeError("unit of work already in a transaction")
        try:
            self._conn = await self._engine.connect()
            self._tx = await self._conn.begin()
        except Exception as exc:
            await self._close()
            if is_connection_failure(exc):
                raise StorageUnavailable("the database is unreachable") from exc
            raise
        if self._request is not None:
            try:
                await self._request.begin(self._conn)
            except BaseException as exc:
                await self._close()
                if is_connection_failure(exc):
                    raise StorageUnavailable("the database is unreachable") from exc
                raise
        changes = self._changes = ChangeTracker(self._actor, _utc_now)
        self.payments = SqlPaymentRepository(self._conn, self._sealer, changes)
        self.refunds = SqlRefundRepository(self._conn, self._sealer, changes)
        self.payment_methods = SqlPaymentMethodRepository(self._conn, self._sealer, changes)
        self.retries = SqlRetrySchedule(self._conn)
        self.webhook_events = SqlWebhookEventLog(self._conn, self._sealer)
        self.disputes = SqlDisputeRepository(self._conn, changes)
        self.consumed_events = SqlConsumedEventLog(self._conn)
        self.fx_rates = SqlFxRateRepository(self._conn)
        self.fx_quotes = SqlFxQuoteRepository(self._conn)
        return self

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
        self._changes.describe(
            aggregate, action, transaction=transaction, outcome=outcome, reason=reason, extra=extra
        )

    def conclude(self, result: object) -> None:
        if self._request is not None:
            self._request.conclude(result)

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
        self._changes.fact(
            action,
            resource_type,
            resource_id,
            outcome=outcome,
            reason=reason,
            after=after,
            events=events,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()
        if exc is not None and is_connection_failure(exc):
            raise StorageUnavailable("the database is unreachable") from exc

    async def commit(self) -> None:
        assert self._tx is not None and self._conn is not None, "commit outside a transaction"
        try:
            events, entries = self._changes.collect()
            answer = self._request.staged_answer() if self._request is not None else None
            # The outbox events, the audit entries and the request's answer: one statement.
            await commit_writes.write(
                self._conn, CommitWrites(events, entries, answer, self._render)
            )
            await self._tx.commit()
            if self._request is not None:
                self._request.committed()
        except Exception as exc:
            if is_connection_failure(exc):
                raise StorageUnavailable("the database is unreachable") from exc
            raise
        finally:
            self._tx = None

    async def _close(self) -> None:
        if self._request is not None:
            self._request.rolled_back()  # whatever this transaction staged did not commit
        conn, tx = self._conn, self._tx
        self._conn = self._tx = None
        try:
            if tx is not None and tx.is_active:
                await tx.rollback()
        except Exception:  # noqa: S110 - the connection is discarded just below
            pass
        finally:
            if conn is not None:
                await conn.close()


def _utc_now() -> datetime:
    return datetime.now(UTC)
