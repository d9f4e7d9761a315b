"""ListDisputes' SQL: a filtered keyset page of disputes, newest first, walking the
(…, created_at, id) indexes of migration 0024. An end user's page joins the payments table
to keep only the disputes of their own payments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select, tuple_

from domain.dispute_listing import DisputeComparison, DisputeField, DisputeQuery
from infra.db.payment_search import compared
from infra.db.tables import disputes, payments

_COLUMNS = {
    DisputeField.STATUS: disputes.c.status,
    DisputeField.PAYMENT_ID: disputes.c.payment_id,
    DisputeField.GATEWAY: disputes.c.gateway,
    DisputeField.CREATE_TIME: disputes.c.created_at,
}


def _condition(comparison: DisputeComparison) -> ColumnElement[bool]:
    return compared(_COLUMNS[comparison.field], comparison.op, comparison.value)


def page_statement(query: DisputeQuery) -> Select[Any]:
    """size + 1 rows: the extra one says whether a next page exists."""
    statement = select(disputes)
    conditions = [_condition(c) for c in query.filter.comparisons]
    if query.only_user is not None:
        statement = statement.join(payments, payments.c.id == disputes.c.payment_id)
        conditions.append(payments.c.user_id == query.only_user)
    if query.after is not None:
        key = tuple_(disputes.c.created_at, disputes.c.id)
        conditions.append(key < (query.after.created_at, query.after.id))
    return (
        statement.where(*conditions)
        .order_by(disputes.c.created_at.desc(), disputes.c.id.desc())
        .limit(query.size + 1)
    )
