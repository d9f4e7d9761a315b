"""Where the simulator keeps its records: its answers by idempotency key, its charges, and
the list of effects (money moved). In memory, or in its own PostgreSQL schema - a stand-in
for a real gateway's books, which survive a crash of the service that called it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import BigInteger, Column, MetaData, Table, Text, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.schema import CreateSchema

from domain.enums import NextActionType
from domain.gateway import GatewayOutcome, NextAction, OutcomeStatus


@dataclass(slots=True)
class SimulatedCharge:
    """The gateway's own record of one authorization and what happened to it."""

    reference: str
    amount_minor: int
    currency: str
    status: str  # authorized | requires_action | captured | voided | declined
    captured_minor: int = 0
    refunded_minor: int = 0
    refunds: list[str] = field(default_factory=list)
    # When the charge was made (ISO 8601), for the reconciliation report; None in charges
    # recorded before it was kept.
    created_at: str | None = None


class LedgerBook(Protocol):
    """One atomic look at the ledger: nothing else changes it until the book is closed."""

    async def answer(self, key: str) -> GatewayOutcome | None: ...

    async def save_answer(self, key: str, outcome: GatewayOutcome) -> None: ...

    async def charge(self, reference: str) -> SimulatedCharge | None: ...

    async def save_charge(self, charge: SimulatedCharge) -> None: ...

    async def add_effect(self, operation: str, key: str, amount_minor: int) -> None: ...


class Ledger(Protocol):
    def book(self) -> Any:
        """An async context manager yielding a LedgerBook."""


class MemoryLedger:
    def __init__(self) -> None:
        self.charges: dict[str, SimulatedCharge] = {}
        self.answers: dict[str, GatewayOutcome] = {}
        # (operation, idempotency key, amount) of every call that moved money.
        self.effects: list[tuple[str, str, int]] = []
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def book(self) -> AsyncIterator[MemoryLedger]:
        async with self._lock:
            yield self

    async def answer(self, key: str) -> GatewayOutcome | None:
        return self.answers.get(key)

    async def save_answer(self, key: str, outcome: GatewayOutcome) -> None:
        self.answers[key] = outcome

    async def charge(self, reference: str) -> SimulatedCharge | None:
        return self.charges.get(reference)

    async def save_charge(self, charge: SimulatedCharge) -> None:
        self.charges[charge.reference] = charge

    async def add_effect(self, operation: str, key: str, amount_minor: int) -> None:
        self.effects.append((operation, key, amount_minor))


# --- in PostgreSQL -----------------------------------------------------------------------------
# The simulator's own tables, outside the service's schema and migrations (alembic only
# compares the default schema): the gateway's books are not ours.
SCHEMA = "gateway_simulator"
_books = MetaData(schema=SCHEMA)
_answers = Table(
    "answers",
    _books,
    Column("key", Text, primary_key=True),
    Column("outcome", JSONB, nullable=False),
)
_charges = Table(
    "charges",
    _books,
    Column("reference", Text, primary_key=True),
    Column("charge", JSONB, nullable=False),
)
_effects = Table(
    "effects",
    _books,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("operation", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
)
# Serialises the simulator's bookkeeping across processes (it is a test double, not a hot path).
_LOCK = select(func.pg_advisory_xact_lock(func.hashtextextended(SCHEMA, 0)))


def outcome_to_json(outcome: GatewayOutcome) -> dict[str, Any]:
    return dataclasses.asdict(outcome)


def outcome_from_json(data: dict[str, Any]) -> GatewayOutcome:
    action = data.get("next_action")
    return GatewayOutcome(
        status=OutcomeStatus(data["status"]),
        reference=data.get("reference"),
        failure_code=data.get("failure_code"),
        failure_reason=data.get("failure_reason"),
        next_action=NextAction(NextActionType(action["type"]), action["url"]) if action else None,
        soft=data.get("soft", False),
        liability_shift=data.get("liability_shift"),
        sca_exemption_sent=data.get("sca_exemption_sent"),
        sca_exemption_applied=data.get("sca_exemption_applied"),
    )


class SqlLedgerBook:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def answer(self, key: str) -> GatewayOutcome | None:
        raw = await self._conn.scalar(select(_answers.c.outcome).where(_answers.c.key == key))
        return outcome_from_json(raw) if raw is not None else None

    async def save_answer(self, key: str, outcome: GatewayOutcome) -> None:
        await self._conn.execute(insert(_answers).values(key=key, outcome=outcome_to_json(outcome)))

    async def charge(self, reference: str) -> SimulatedCharge | None:
        raw = await self._conn.scalar(
            select(_charges.c.charge).where(_charges.c.reference == reference)
        )
        return SimulatedCharge(**raw) if raw is not None else None

    async def save_charge(self, charge: SimulatedCharge) -> None:
        statement = insert(_charges).values(
            reference=charge.reference, charge=dataclasses.asdict(charge)
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[_charges.c.reference], set_={"charge": statement.excluded.charge}
            )
        )

    async def add_effect(self, operation: str, key: str, amount_minor: int) -> None:
        await self._conn.execute(
            insert(_effects).values(operation=operation, key=key, amount_minor=amount_minor)
        )


class SqlLedger:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._ready = False

    async def _ensure_schema(self) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(_LOCK)
            await conn.execute(CreateSchema(SCHEMA, if_not_exists=True))
            await conn.run_sync(_books.create_all)
        self._ready = True

    @asynccontextmanager
    async def book(self) -> AsyncIterator[SqlLedgerBook]:
        if not self._ready:
            await self._ensure_schema()
        async with self._engine.begin() as conn:
            await conn.execute(_LOCK)
            yield SqlLedgerBook(conn)

    async def effects(self) -> list[tuple[str, str, int]]:
        """Every effect so far, in order (for tests and operators)."""
        if not self._ready:
            await self._ensure_schema()
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(_effects).order_by(_effects.c.id))
            return [(r.operation, r.key, r.amount_minor) for r in rows]

    async def charge(self, reference: str) -> SimulatedCharge | None:
        async with self.book() as book:
            return await book.charge(reference)

    async def all_charges(self) -> AsyncIterator[SimulatedCharge]:
        """Every charge, in batches (the reconciliation report reads the whole book)."""
        if not self._ready:
            await self._ensure_schema()
        after = ""
        while True:
            query = (
                select(_charges).where(_charges.c.reference > after)
                .order_by(_charges.c.reference).limit(500)
            )  # fmt: skip
            async with self._engine.connect() as conn:
                rows = list(await conn.execute(query))
            for row in rows:
                yield SimulatedCharge(**row.charge)
            if len(rows) < 500:
                return
            after = rows[-1].reference
