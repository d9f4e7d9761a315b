"""`payment-service rotate-keys`: moves every encrypted value to the active key, online.

Rows are taken in primary-key order, a batch per short transaction, with
`FOR NO KEY UPDATE SKIP LOCKED`: a row a request holds is skipped (and picked up by the next
pass), a second rotation running at once takes other rows, and a row already on the active
key no longer matches the filter - running it twice is harmless. The rotation changes no
plaintext and no `version`, so a request that read a row before it still saves it (with the
key its own ring makes active). Only the wrapped data key changes (infra/crypto/envelope.py);
format-0 plaintext values left by migration 0011 are sealed, and their blind indexes computed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.crypto.envelope import EnvelopeCipher
from infra.db.encrypted_columns import ENCRYPTED_TABLES, EncryptedTable
from infra.db.sealing import BlindIndexer, UnreadableValue

PLAINTEXT = "(plaintext)"


@dataclass(slots=True)
class TableRotation:
    table: str
    rows: int = 0
    # Values moved from another key to the active one / plaintext values sealed.
    rewrapped: int = 0
    sealed: int = 0
    unreadable: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RotationReport:
    active_key: str
    tables: list[TableRotation]
    # Rows with a value not on the active key after the last pass (unreadable, or held by
    # requests all along).
    remaining: int
    # Values per key id over every encrypted column; PLAINTEXT for format-0 values.
    key_usage: dict[str, int]

    @property
    def unreadable(self) -> list[str]:
        return [message for table in self.tables for message in table.unreadable]


class KeyRotation:
    def __init__(
        self,
        engine: AsyncEngine,
        cipher: EnvelopeCipher,
        indexer: BlindIndexer,
        *,
        batch_size: int = 200,
        max_passes: int = 5,
        pause_between_passes: float = 1.0,
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._indexer = indexer
        self._batch_size = batch_size
        self._max_passes = max_passes
        self._pause = pause_between_passes

    async def run(
        self, *, reindex: bool = False, progress: Callable[[str, int], None] | None = None
    ) -> RotationReport:
        """Every value to the active key; `reindex` also recomputes every blind index (after
        BLIND_INDEX_KEY changed). `progress` hears (table, rows rewritten so far) after each
        batch: a large table takes minutes."""
        tables = {spec.name: TableRotation(spec.name) for spec in ENCRYPTED_TABLES}
        remaining = 0
        for number in range(self._max_passes):
            if number:
                await asyncio.sleep(self._pause)  # let the requests holding rows finish
            for spec in ENCRYPTED_TABLES:
                await self._rotate_table(spec, tables[spec.name], reindex, progress)
            unreadable_rows = sum(len(t.unreadable) for t in tables.values())
            remaining = await self._count_stale()
            if remaining <= unreadable_rows:
                break
            for table in tables.values():  # counted again by the next pass
                table.unreadable.clear()
        return RotationReport(
            self._cipher.ring.active_id, list(tables.values()), remaining, await self.key_usage()
        )

    async def key_usage(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        async with self._engine.connect() as conn:
            for spec in ENCRYPTED_TABLES:
                for column in spec.columns:
                    col = spec.table.c[column]
                    # Header layout: format byte, key id length, key id (envelope.py).
                    key = case(
                        (func.get_byte(col, 0) == 0, literal(PLAINTEXT)),
                        else_=func.encode(func.substring(col, 3, func.get_byte(col, 1)), "escape"),
                    )
                    query = select(key, func.count()).where(col.is_not(None)).group_by(key)
                    for key_id, count in await conn.execute(query):
                        counts[key_id] += count
        return dict(counts)

    def _stale(self, spec: EncryptedTable) -> ColumnElement[bool]:
        header = self._cipher.active_header
        prefix = literal(header, type_=LargeBinary)
        return or_(
            *(
                and_(
                    spec.table.c[column].is_not(None),
                    type_coerce(func.substring(spec.table.c[column], 1, len(header)), LargeBinary)
                    != prefix,
                )
                for column in spec.columns
            )
        )

    def _indexed(self, spec: EncryptedTable) -> ColumnElement[bool]:
        return or_(*(spec.table.c[index.source].is_not(None) for index in spec.blind_indexes))

    async def _count_stale(self) -> int:
        total = 0
        async with self._engine.connect() as conn:
            for spec in ENCRYPTED_TABLES:
                query = select(func.count()).select_from(spec.table).where(self._stale(spec))
                total += int((await conn.execute(query)).scalar_one())
        return total

    async def _rotate_table(
        self,
        spec: EncryptedTable,
        tally: TableRotation,
        reindex: bool,
        progress: Callable[[str, int], None] | None = None,
    ) -> None:
        keys = list(spec.table.primary_key.columns)
        wanted = self._stale(spec)
        if reindex and spec.blind_indexes:
            wanted = or_(wanted, self._indexed(spec))
        last: tuple[Any, ...] | None = None
        while True:
            query = select(spec.table).where(wanted)
            if last is not None:
                after = [literal(value, key.type) for key, value in zip(keys, last, strict=True)]
                query = query.where(tuple_(*keys) > tuple_(*after))
            query = (
                query.order_by(*keys)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True, key_share=True)
            )
            async with self._engine.begin() as conn:
                rows = list((await conn.execute(query)).mappings())
                for row in rows:
                    await self._rotate_row(conn, spec, row, tally, reindex)
            if progress is not None:
                progress(spec.name, tally.rows)
            if len(rows) < self._batch_size:
                return
            last = tuple(rows[-1][key.name] for key in keys)

    async def _rotate_row(
        self,
        conn: AsyncConnection,
        spec: EncryptedTable,
        row: Any,
        tally: TableRotation,
        reindex: bool,
    ) -> None:
        try:
            values = self._new_values(spec, row, tally, reindex)
        except UnreadableValue as exc:
            tally.unreadable.append(str(exc))
            return
        if not values:
            return
        keys = spec.table.primary_key.columns
        where = [key == row[key.name] for key in keys]
        await conn.execute(update(spec.table).where(*where).values(values))
        tally.rows += 1

    def _new_values(
        self, spec: EncryptedTable, row: Any, tally: TableRotation, reindex: bool
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        cipher = self._cipher
        for column in spec.columns:
            if row[column] is None:
                continue
            sealed, place = bytes(row[column]), spec.place(row, column)
            plaintext_format = cipher.key_id(sealed) is None
            if not sealed.startswith(cipher.active_header):
                values[column] = cipher.rewrap(sealed, place)
                if plaintext_format:
                    tally.sealed += 1
                else:
                    tally.rewrapped += 1
            for index in spec.blind_indexes:
                if index.source == column and (plaintext_format or reindex):
                    purpose, value = index.digest_input(row, cipher.open(sealed, place).decode())
                    values[index.column] = self._indexer.digest(purpose, value) if value else None
        return values
