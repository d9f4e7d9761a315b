"""ListPayments' SQL: a filtered keyset page of payments, with their transactions, in one
statement.

The page is chosen first (a subquery with LIMIT size + 1, walking one of the
(…, created_at, id) indexes of migration 0021 in either direction), then its payments are
joined to their transactions: one row per transaction, as the single-payment read does, so a
page costs one round trip however many payments it holds.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Select, select, tuple_

from domain.pagination import Cursor
from domain.payment_filter import Comparison, FilterField, Operator
from domain.payment_listing import PaymentQuery
from infra.db.tables import payments, transactions

TXN_PREFIX = "txn_"

_COLUMNS = {
    FilterField.USER_ID: payments.c.user_id,
    FilterField.STATUS: payments.c.status,
    FilterField.CURRENCY: payments.c.currency,
    FilterField.GATEWAY: payments.c.gateway,
    FilterField.PAYMENT_METHOD_TYPE: payments.c.payment_method_type,
    FilterField.CREATE_TIME: payments.c.created_at,
}
_SQL_OPS: dict[Operator, Callable[[Any, Any], Any]] = {
    Operator.EQ: operator.eq,
    Operator.NE: operator.ne,
    Operator.LT: operator.lt,
    Operator.LE: operator.le,
    Operator.GT: operator.gt,
    Operator.GE: operator.ge,
}


def compared(column: Any, op: Operator, value: object) -> ColumnElement[bool]:
    """`column op value` in SQL (the filters of every list: payments, disputes)."""
    bound = value.value if isinstance(value, Enum) else value  # stored as the plain name
    result: ColumnElement[bool] = _SQL_OPS[op](column, bound)
    return result


def _condition(comparison: Comparison) -> ColumnElement[bool]:
    return compared(_COLUMNS[comparison.field], comparison.op, comparison.value)


def _conditions(query: PaymentQuery) -> list[ColumnElement[bool]]:
    conditions = [_condition(c) for c in query.filter.comparisons]
    if query.only_user is not None:
        conditions.append(payments.c.user_id == query.only_user)
    if query.after is not None:
        key = tuple_(payments.c.created_at, payments.c.id)
        after = (query.after.created_at, query.after.id)
        conditions.append(key < after if query.descending else key > after)
    return conditions


def page_statement(query: PaymentQuery) -> Select[Any]:
    """Rows of the page's payments (payment columns, then txn_-prefixed transaction columns,
    NULL for a payment without any), in the page's order, each payment's transactions in
    theirs."""
    created, ident = payments.c.created_at, payments.c.id
    order = (created.desc(), ident.desc()) if query.descending else (created, ident)
    page = (
        select(payments).where(*_conditions(query)).order_by(*order).limit(query.size + 1)
    ).subquery("page")
    page_order = (
        (page.c.created_at.desc(), page.c.id.desc())
        if query.descending
        else (page.c.created_at, page.c.id)
    )
    return (
        select(page, *(c.label(TXN_PREFIX + c.name) for c in transactions.c))
        .outerjoin(transactions, transactions.c.payment_id == page.c.id)
        .order_by(*page_order, transactions.c.created_at, transactions.c.id)
    )


def grouped(rows: list[Any]) -> list[tuple[Any, list[dict[str, Any]]]]:
    """(payment row, its transaction rows) in the rows' order."""
    payments_seen: dict[Any, tuple[Any, list[dict[str, Any]]]] = {}
    for row in rows:
        entry = payments_seen.setdefault(row["id"], (row, []))
        if row[TXN_PREFIX + "id"] is not None:
            entry[1].append({c.name: row[TXN_PREFIX + c.name] for c in transactions.c})
    return list(payments_seen.values())


def next_cursor(found: list[Any], size: int) -> Cursor | None:
    """Where the next page starts: after the page's last payment, when more were found."""
    if len(found) <= size:
        return None
    last = found[size - 1][0]
    return Cursor(last["created_at"], str(last["id"]))
