"""SQL repositories over the unit of work's connection (infra/db/staging.py)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Dialect

from domain.changes import ChangeTracker
from domain.errors import (
    ConcurrentModification,
    DomainError,
    PaymentAlreadyExists,
    PaymentMethodNotFound,
    PaymentNotFound,
    RefundNotFound,
)
from domain.pagination import Cursor, Page, PageRequest
from domain.payment import Payment
from domain.payment_listing import PaymentQuery
from domain.payment_method import PaymentMethod
from domain.refund import Refund
from domain.transaction import Transaction
from infra.db import mappers, payment_search
from infra.db.driver import DriverQuery
from infra.db.sealing import (
    PAYPAL_EMAIL,
    Sealer,
    gateway_customer_purpose,
    normalise_email,
)
from infra.db.staging import Statements
from infra.db.tables import payment_methods, payments, refunds, transactions


def _page(rows: list[Any], page: PageRequest, build: Any) -> Page[Any]:
    items = [build(row) for row in rows[: page.size]]
    more = len(rows) > page.size
    last = items[-1] if items and more else None
    return Page(items, Cursor(last.created_at, last.id) if last else None)


def _after(query: Select[Any], table: Any, page: PageRequest) -> Select[Any]:
    if page.after is not None:
        query = query.where(
            tuple_(table.c.created_at, table.c.id) > (page.after.created_at, page.after.id)
        )
    return query.order_by(table.c.created_at, table.c.id).limit(page.size + 1)


# Hot-path statements are built once with bind parameters: SQLAlchemy then compiles each a
# single time instead of coercing ~30 values per call (most of the CPU of a request).
# anonymized_at belongs to the retention job (infra/db/retention.py), not to the aggregate.
_PAYMENT_COLUMNS = [c.name for c in payments.c if c.name not in ("id", "version", "anonymized_at")]
# A payment with its transactions in one statement: one row per transaction (the payment's
# columns repeated), or one row with NULL transaction columns when it has none.
_TXN_PREFIX = "txn_"
PAYMENT_WITH_TRANSACTIONS = (
    select(payments, *(c.label(_TXN_PREFIX + c.name) for c in transactions.c))
    .outerjoin(transactions, transactions.c.payment_id == payments.c.id)
    .where(payments.c.id == bindparam("payment_id"))
    .order_by(transactions.c.created_at, transactions.c.id)
)


@functools.cache
def _payment_query(dialect: Dialect) -> DriverQuery:
    return DriverQuery(PAYMENT_WITH_TRANSACTIONS, dialect)


# The lock is a statement of its own, before the read: a joined SELECT ... FOR UPDATE that
# waited for a concurrent writer re-reads the payment row but not the transactions joined to
# it (PostgreSQL's EvalPlanQual), so it could pair a new payment with old transactions.
_LOCK_PAYMENT = (
    select(payments.c.id).where(payments.c.id == bindparam("payment_id")).with_for_update()
)
_SELECT_TRANSACTIONS = (
    select(transactions)
    .where(transactions.c.payment_id == bindparam("payment_id"))
    .order_by(transactions.c.created_at, transactions.c.id)
)
_TXN_MUTABLE = (
    "status",
    "gateway_transaction_id",
    "failure_code",
    "failure_reason",
    "completed_at",
    "settlement_amount_minor",
    "settlement_currency",
)
# A payment's update and its new or changed transactions in one statement: the transactions
# are written only when the update found the version it expects (the count it returns). The
# text is made from the tables' own column names, never from input.
_TXN_COLUMNS = [c.name for c in transactions.c]
_TXN_ARRAY_TYPES = {
    "id": "uuid[]", "payment_id": "uuid[]", "refund_id": "uuid[]", "amount_minor": "bigint[]",
    "created_at": "timestamptz[]", "completed_at": "timestamptz[]",
    "settlement_amount_minor": "bigint[]",
}  # fmt: skip
# A payment's write and its new or changed transactions, as CTEs named `saved` (the payment's
# id when it was written) and `written`: the update guards on the version read, the insert on
# the order having no payment yet. The unit of work writes a staged one in its commit
# statement (infra/db/commit_writes.py), where every other write waits on `saved` too.
_WRITTEN_CTE = (
    " written AS (INSERT INTO transactions (" + ", ".join(_TXN_COLUMNS) + ")"  # noqa: S608
    " SELECT * FROM unnest("
    + ", ".join(f"CAST(:t_{n} AS {_TXN_ARRAY_TYPES.get(n, 'text[]')})" for n in _TXN_COLUMNS)
    + ") WHERE EXISTS (SELECT 1 FROM saved) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _TXN_MUTABLE)
    + ")"
)
UPDATE_PAYMENT_CTES = (
    "saved AS (UPDATE payments SET "  # noqa: S608 - our own column names, see above
    + ", ".join(f"{name} = :{name}" for name in _PAYMENT_COLUMNS)
    + ", version = version + 1 WHERE id = :p_id AND version = :p_version RETURNING id),"
    + _WRITTEN_CTE
)
INSERT_PAYMENT_CTES = (
    "saved AS (INSERT INTO payments (id, "  # noqa: S608 - our own column names, see above
    + ", ".join(_PAYMENT_COLUMNS)
    + ", version) VALUES (:p_id, "
    + ", ".join(f":{name}" for name in _PAYMENT_COLUMNS)
    + ", :p_version) ON CONFLICT (order_id) DO NOTHING RETURNING id),"
    + _WRITTEN_CTE
)
# The payment columns' types (sealed columns are bytes, timestamps aware ...).
SAVE_PAYMENT_BINDS = tuple(
    bindparam(c.name, type_=c.type) for c in payments.c if c.name in _PAYMENT_COLUMNS
)
_WRITE_PAYMENT = {
    ctes: text(f"WITH {ctes} SELECT count(*) FROM saved").bindparams(*SAVE_PAYMENT_BINDS)  # noqa: S608
    for ctes in (UPDATE_PAYMENT_CTES, INSERT_PAYMENT_CTES)
}


# A refund's columns come with each execution (the statements are built once).
_INSERT_REFUND = insert(refunds)
_UPDATE_REFUND = update(refunds).where(refunds.c.id == bindparam("r_id"))
_SELECT_REFUND = select(refunds).where(refunds.c.id == bindparam("refund_id"))


@dataclass
class StagedSave:
    """A payment added or saved but not written yet: the CTEs that write it (see above) with
    their parameters, and the rows of its new or changed transactions."""

    payment: Payment
    new: bool
    ctes: str
    params: dict[str, Any]
    changed: list[dict[str, Any]]


class SqlPaymentRepository:
    def __init__(
        self, conn: Statements, sealer: Sealer, tracker: ChangeTracker, dialect: Dialect
    ) -> None:
        self._conn = conn
        self._sealer = sealer
        self._tracker = tracker
        self._dialect = dialect
        # Transaction rows as last read or written, to write only what changed.
        self._stored_txns: dict[str, dict[str, Any]] = {}
        # Added or saved, not written yet (staging.py): by payment id, in the order staged,
        # with whether it is new.
        self._staged: dict[str, tuple[Payment, bool]] = {}

    async def add(self, payment: Payment) -> None:
        """Staged like a save; PaymentAlreadyExists comes when it is written."""
        if payment.id in self._staged:
            await self.flush()
        payment.version = 1
        self._staged[payment.id] = (payment, True)
        self._tracker.added(payment)

    async def _load(self, payment_id: str, *, lock: bool) -> Payment:
        params = {"payment_id": payment_id}
        if lock and (await self._conn.execute(_LOCK_PAYMENT, params)).first() is None:
            raise PaymentNotFound("no such payment", metadata={"payment_id": payment_id})
        # Every call's read: on asyncpg directly (driver.py).
        rows = await self._conn.read_mappings(_payment_query(self._dialect), params)
        payment_row, txns = None, []
        for row in rows:
            payment_row = row
            if row[_TXN_PREFIX + "id"] is not None:
                stored = {c.name: row[_TXN_PREFIX + c.name] for c in transactions.c}
                self._stored_txns[stored["id"]] = stored
                txns.append(mappers.transaction_from_row(stored))
        if payment_row is None:
            raise PaymentNotFound("no such payment", metadata={"payment_id": payment_id})
        return self._built(payment_row, txns)

    def _built(self, row: Any, txns: list[Transaction]) -> Payment:
        payment = mappers.payment_from_row(row, txns, self._sealer)
        self._tracker.loaded(payment)
        return payment

    async def _with_transactions(self, row: Any) -> Payment:
        result = await self._conn.execute(_SELECT_TRANSACTIONS, {"payment_id": row["id"]})
        txns = []
        for txn_row in result.mappings():
            self._stored_txns[txn_row["id"]] = dict(txn_row)
            txns.append(mappers.transaction_from_row(txn_row))
        return self._built(row, txns)

    async def get(self, payment_id: str) -> Payment:
        return await self._load(payment_id, lock=False)

    async def get_for_update(self, payment_id: str) -> Payment:
        return await self._load(payment_id, lock=True)

    async def find_by_order(self, order_id: str) -> Payment | None:
        query = select(payments).where(payments.c.order_id == order_id)
        row = (await self._conn.execute(query)).mappings().first()
        return await self._with_transactions(row) if row else None

    async def find_by_gateway_payment_id(self, gateway_payment_id: str) -> Payment | None:
        query = (
            select(payments).where(payments.c.gateway_payment_id == gateway_payment_id)
        ).with_for_update()
        row = (await self._conn.execute(query)).mappings().first()
        return await self._with_transactions(row) if row else None

    async def find_by_gateway_transaction_id(self, reference: str) -> Payment | None:
        owner = (
            select(transactions.c.payment_id)
            .where(transactions.c.gateway_transaction_id == reference)
            .limit(1)
        )
        payment_id = (await self._conn.execute(owner)).scalar()
        return await self.get_for_update(payment_id) if payment_id else None

    def adopt(self, payment: Payment) -> None:
        """A payment saved by an earlier unit of work of this process, taken as stored without
        reading it again: its version guards the next save, which fails when someone else
        wrote the payment since."""
        for txn in payment.transactions:
            row = mappers.transaction_to_row(txn)
            self._stored_txns[row["id"]] = row
        self._tracker.loaded(payment)

    async def save(self, payment: Payment) -> None:
        """Staged: written before the next statement of the transaction, or by its commit.
        The version moves now, as the answer rendered before the commit must say."""
        staged = self._staged.get(payment.id)
        if staged is None or staged[0] is not payment:
            if staged is not None:
                await self.flush()  # another copy of it: that one first, as it came first
            self._staged[payment.id] = (payment, False)
            payment.version += 1
        self._tracker.saved(payment)

    def take_staged(self) -> StagedSave | None:
        """The last staged write, for the commit's statement (the others written first by
        `flush(keep_last=True)`); when it wrote nothing, the commit raises `refusal`."""
        return self._take(next(reversed(self._staged))) if self._staged else None

    def _take(self, payment_id: str) -> StagedSave:
        payment, new = self._staged.pop(payment_id)
        params = mappers.payment_to_row(payment, self._sealer)
        params["p_id"], params["p_version"] = params.pop("id"), 1 if new else payment.version - 1
        changed = self._changed_transactions(payment)  # none: the arrays are empty
        params |= {f"t_{n}": [row[n] for row in changed] for n in _TXN_COLUMNS}
        ctes = INSERT_PAYMENT_CTES if new else UPDATE_PAYMENT_CTES
        return StagedSave(payment, new, ctes, params, changed)

    def written(self, staged: StagedSave) -> None:
        for row in staged.changed:  # what is stored now
            self._stored_txns[row["id"]] = row

    async def refusal(self, staged: StagedSave) -> DomainError:
        """Why a staged write wrote nothing: the order has a payment already, or the payment
        changed since it was read."""
        if not staged.new:
            return changed_meanwhile(staged.payment)
        existing = await self.find_by_order(staged.payment.order_id)
        return PaymentAlreadyExists(
            "the order already has a payment",
            metadata={
                "order_id": staged.payment.order_id,
                "payment_id": existing.id if existing else "",
            },
        )

    async def flush(self, *, keep_last: bool = False) -> None:
        """Writes the staged payments in the order staged, each in its own statement (all but
        the last one, if asked)."""
        while len(self._staged) > (1 if keep_last else 0):
            staged = self._take(next(iter(self._staged)))
            statement = _WRITE_PAYMENT[staged.ctes]
            if (await self._conn.execute(statement, staged.params)).scalar_one() != 1:
                raise await self.refusal(staged)
            self.written(staged)

    async def find_open_operations(
        self, started_before: datetime, limit: int
    ) -> list[tuple[str, str]]:
        rows = await self._conn.execute(
            select(transactions.c.payment_id, transactions.c.id)
            .where(
                transactions.c.status.in_(("PENDING", "UNKNOWN")),
                transactions.c.created_at < started_before,
            )
            .order_by(transactions.c.created_at)
            .limit(limit)
        )
        return [(row.payment_id, row.id) for row in rows]

    async def search(self, query: PaymentQuery) -> Page[Payment]:
        rows = list((await self._conn.execute(payment_search.page_statement(query))).mappings())
        found = payment_search.grouped(rows)
        items = []
        for row, txn_rows in found[: query.size]:
            for stored in txn_rows:
                self._stored_txns[stored["id"]] = stored
            items.append(self._built(row, [mappers.transaction_from_row(t) for t in txn_rows]))
        return Page(items, payment_search.next_cursor(found, query.size))

    def _changed_transactions(self, payment: Payment) -> list[dict[str, Any]]:
        """Rows of the transactions new or changed since they were read or written."""
        rows = (mappers.transaction_to_row(txn) for txn in payment.transactions)
        return [row for row in rows if self._stored_txns.get(row["id"]) != row]


def changed_meanwhile(payment: Payment) -> ConcurrentModification:
    return ConcurrentModification(
        "the payment changed since it was read; retry", metadata={"payment_id": payment.id}
    )


class SqlRefundRepository:
    def __init__(self, conn: Statements, sealer: Sealer, tracker: ChangeTracker) -> None:
        self._conn = conn
        self._sealer = sealer
        self._tracker = tracker

    def _from_row(self, row: Any) -> Refund:
        refund = mappers.refund_from_row(row, self._sealer)
        self._tracker.loaded(refund)
        return refund

    async def add(self, refund: Refund) -> None:
        row = mappers.refund_to_row(refund, self._sealer)
        await self._conn.execute(_INSERT_REFUND, row)
        self._tracker.added(refund)

    async def get(self, refund_id: str) -> Refund:
        row = (await self._conn.read(_SELECT_REFUND, {"refund_id": refund_id})).mappings().first()
        if row is None:
            raise RefundNotFound("no such refund", metadata={"refund_id": refund_id})
        return self._from_row(row)

    async def save(self, refund: Refund) -> None:
        values = mappers.refund_to_row(refund, self._sealer)
        values["r_id"] = values.pop("id")
        await self._conn.execute(_UPDATE_REFUND, values)
        self._tracker.saved(refund)

    async def list_for_payment(self, payment_id: str, page: PageRequest) -> Page[Refund]:
        query = _after(select(refunds).where(refunds.c.payment_id == payment_id), refunds, page)
        rows = list((await self._conn.execute(query)).mappings())
        return _page(rows, page, self._from_row)


class SqlPaymentMethodRepository:
    def __init__(self, conn: Statements, sealer: Sealer, tracker: ChangeTracker) -> None:
        self._conn = conn
        self._sealer = sealer
        self._tracker = tracker

    def _from_row(self, row: Any) -> PaymentMethod:
        method = mappers.method_from_row(row, self._sealer)
        self._tracker.loaded(method)
        return method

    async def add(self, method: PaymentMethod) -> None:
        row = mappers.method_to_row(method, self._sealer)
        await self._conn.execute(insert(payment_methods).values(**row))
        self._tracker.added(method)

    async def get(self, payment_method_id: str) -> PaymentMethod:
        row = (
            (
                await self._conn.read(
                    select(payment_methods).where(
                        payment_methods.c.id == payment_method_id,
                        payment_methods.c.deleted_at.is_(None),
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise PaymentMethodNotFound(
                "no such payment method", metadata={"payment_method_id": payment_method_id}
            )
        return self._from_row(row)

    async def list_for_user(self, user_id: str, page: PageRequest) -> Page[PaymentMethod]:
        live = select(payment_methods).where(
            payment_methods.c.user_id == user_id, payment_methods.c.deleted_at.is_(None)
        )
        rows = list((await self._conn.execute(_after(live, payment_methods, page))).mappings())
        return _page(rows, page, self._from_row)

    async def lock_user(self, user_id: str) -> list[PaymentMethod]:
        # A transaction-scoped advisory lock on the user serialises default changes even when
        # the user has no rows yet to lock (the first method added concurrently twice).
        lock_key = func.hashtextextended(f"payment_methods:{user_id}", 0)
        await self._conn.execute(select(func.pg_advisory_xact_lock(lock_key)))
        rows = (
            await self._conn.execute(
                select(payment_methods)
                .where(payment_methods.c.user_id == user_id, payment_methods.c.deleted_at.is_(None))
                .order_by(payment_methods.c.created_at, payment_methods.c.id)
                .with_for_update()
            )
        ).mappings()
        return [self._from_row(row) for row in rows]

    async def default_for_user(self, user_id: str) -> PaymentMethod | None:
        row = (
            (
                await self._conn.execute(
                    select(payment_methods).where(
                        payment_methods.c.user_id == user_id,
                        payment_methods.c.deleted_at.is_(None),
                        payment_methods.c.is_default.is_(True),
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else self._from_row(row)

    async def save(self, method: PaymentMethod) -> None:
        values = mappers.method_to_row(method, self._sealer)
        del values["id"]
        await self._conn.execute(
            update(payment_methods).where(payment_methods.c.id == method.id).values(**values)
        )
        self._tracker.saved(method)

    # Equality lookups on encrypted columns go through their blind indexes (HMAC digests):
    # for data-subject requests ("every method of this PayPal account") and gateway customer
    # events. Deleted methods are included: their data is still held until retention runs.
    async def find_by_paypal_email(self, email: str) -> list[PaymentMethod]:
        digest = self._sealer.index(PAYPAL_EMAIL, normalise_email(email))
        if digest is None:  # `== None` would be IS NULL: every method without an email
            return []
        return await self._find(payment_methods.c.paypal_email_bidx == digest)

    async def find_by_gateway_customer(self, gateway: str, customer_id: str) -> list[PaymentMethod]:
        digest = self._sealer.index(gateway_customer_purpose(gateway), customer_id)
        if digest is None:
            return []
        return await self._find(
            payment_methods.c.gateway == gateway, payment_methods.c.gateway_customer_bidx == digest
        )

    async def _find(self, *conditions: Any) -> list[PaymentMethod]:
        query = (
            select(payment_methods)
            .where(*conditions)
            .order_by(payment_methods.c.created_at, payment_methods.c.id)
        )
        return [self._from_row(row) for row in (await self._conn.execute(query)).mappings()]
