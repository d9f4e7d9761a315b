"""The unit of work: one database transaction per `async with`."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from domain.audit import AuditTrail
from domain.errors import StorageUnavailable
from infra.db.audit import append_audit
from infra.db.engine import is_connection_failure
from infra.db.outbox import SqlEventOutbox
from infra.db.repositories import (
    SqlPaymentMethodRepository,
    SqlPaymentRepository,
    SqlRefundRepository,
)
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
    outbox: SqlEventOutbox
    retries: SqlRetrySchedule
    webhook_events: SqlWebhookEventLog
    disputes: SqlDisputeRepository
    consumed_events: SqlConsumedEventLog
    # Staged entries, written by commit() in this transaction (append_audit).
    audit: AuditTrail

    def __init__(self, engine: AsyncEngine, sealer: Sealer, render: RenderEvent) -> None:
        self._engine = engine
        # Encrypts and decrypts the sensitive columns (the key ring lives behind it).
        self._sealer = sealer
        # Renders events into their published form as the outbox stores them.
        self._render = render
        self.audit = AuditTrail()
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
        self.payments = SqlPaymentRepository(self._conn, self._sealer)
        self.refunds = SqlRefundRepository(self._conn, self._sealer)
        self.payment_methods = SqlPaymentMethodRepository(self._conn, self._sealer)
        self.outbox = SqlEventOutbox(self._conn, self._render)
        self.retries = SqlRetrySchedule(self._conn)
        self.webhook_events = SqlWebhookEventLog(self._conn, self._sealer)
        self.disputes = SqlDisputeRepository(self._conn)
        self.consumed_events = SqlConsumedEventLog(self._conn)
        self.audit = AuditTrail()
        return self

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
            # Chained by the database as it commits (see infra/db/audit.py).
            await append_audit(self._conn, self.audit.drain())
            await self._tx.commit()
        except Exception as exc:
            if is_connection_failure(exc):
                raise StorageUnavailable("the database is unreachable") from exc
            raise
        finally:
            self._tx = None

    async def _close(self) -> None:
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
