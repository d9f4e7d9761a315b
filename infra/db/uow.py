"""The unit of work: one database transaction per `async with`, and its side effects.

Its repositories report what they load and write to a ChangeTracker (domain/changes.py);
`commit()` writes the events of the aggregates written to the outbox and their audit
entries, in the same transaction, as the actor the unit of work was built for.

The transaction begins with its first statement. A payment's save waits for the commit
(staging.py), whose one statement writes it with the events, the entries and the request's
answer; when nothing ran before it, that statement is the whole transaction and runs without
BEGIN and COMMIT (autocommit): one round trip instead of three."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.actor import SYSTEM, Actor
from domain.audit import AuditOutcome
from domain.changes import Aggregate, ChangeTracker
from domain.errors import StorageUnavailable
from domain.events import DomainEvent
from domain.idempotency import KeyTakenMeanwhile
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
from infra.db.staging import StagingConnection
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
        *,
        traceparent: Callable[[], str | None] | None = None,
    ) -> None:
        self._engine = engine
        # With tracing on: the current traceparent, stored with the outbox rows at commit.
        self._traceparent = traceparent
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

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._conn is not None:
            raise RuntimeError("unit of work already in a transaction")
        try:
            self._conn = await self._engine.connect()
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
        conn = StagingConnection(self._conn)
        self.payments = SqlPaymentRepository(conn, self._sealer, changes, self._engine.dialect)
        conn.flush = self.payments.flush
        self.refunds = SqlRefundRepository(conn, self._sealer, changes)
        self.payment_methods = SqlPaymentMethodRepository(conn, self._sealer, changes)
        self.retries = SqlRetrySchedule(conn)
        self.webhook_events = SqlWebhookEventLog(conn, self._sealer)
        self.disputes = SqlDisputeRepository(conn, changes)
        self.consumed_events = SqlConsumedEventLog(conn)
        self.fx_rates = SqlFxRateRepository(conn)
        self.fx_quotes = SqlFxQuoteRepository(conn)
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
        conn = self._conn
        assert conn is not None, "commit outside a unit of work"
        try:
            await self.payments.flush(keep_last=True)
            events, entries = self._changes.collect()
            staged = self.payments.take_staged()
            request = self._request
            writes = CommitWrites(
                events,
                entries,
                request.staged_answer() if request is not None else None,
                request.staged_claim() if request is not None else None,
                self._render,
                (staged.ctes, staged.params) if staged else None,
                self._traceparent() if events and self._traceparent is not None else None,
            )
            # Nothing ran before: this statement is the transaction (autocommit).
            alone = not conn.in_transaction()
            try:
                written = await commit_writes.write(conn, writes, alone=alone)
            except DBAPIError as error:
                refused = commit_writes.refusal(error)
                if refused is None:
                    raise
                if conn.in_transaction():
                    await conn.rollback()  # the error ended it; the refusal reads below
                if refused == commit_writes.KEY_TAKEN:
                    raise KeyTakenMeanwhile() from None
                written = False
            if not written:
                assert staged is not None  # only a payment's write can be refused
                raise await self.payments.refusal(staged)
            if conn.in_transaction():
                await conn.commit()
            if staged is not None:
                self.payments.written(staged)
            if self._request is not None:
                self._request.committed()
        except Exception as exc:
            if is_connection_failure(exc):
                raise StorageUnavailable("the database is unreachable") from exc
            raise

    async def _close(self) -> None:
        if self._request is not None:
            self._request.rolled_back()  # whatever this transaction staged did not commit
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        except Exception:  # noqa: S110 - the connection is discarded just below
            pass
        finally:
            # Back to the pool, where the isolation level set for an autocommit goes back to
            # the engine's default.
            await conn.close()


def _utc_now() -> datetime:
    return datetime.now(UTC)
