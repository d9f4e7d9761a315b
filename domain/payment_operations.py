"""A Payment's gateway operations: its transactions, which of them are still open (PENDING
or UNKNOWN), and what an open one blocks. Functions over the aggregate's transaction list,
kept apart so that the aggregate's module stays small."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from domain.enums import TransactionStatus, TransactionType
from domain.errors import InvalidStateTransition, OperationInProgress
from domain.gateway import GatewayOutcome
from domain.money import Money
from domain.transaction import Transaction


def find(transactions: Iterable[Transaction], transaction_id: str) -> Transaction:
    for txn in transactions:
        if txn.id == transaction_id:
            return txn
    raise KeyError(transaction_id)


def of_kind(
    transactions: Iterable[Transaction], transaction_id: str, kind: TransactionType
) -> Transaction:
    txn = find(transactions, transaction_id)
    if txn.type is not kind:
        raise InvalidStateTransition(
            f"transaction {txn.id} is a {txn.type.value}, not a {kind.value}",
            metadata={"transaction_id": txn.id},
        )
    return txn


def begin(  # noqa: PLR0917 - the operation's parts
    transactions: list[Transaction],
    payment_id: str,
    kind: TransactionType,
    amount: Money,
    transaction_id: str,
    now: datetime,
    refund_id: str | None = None,
) -> Transaction:
    """A new operation, PENDING until the gateway answers."""
    txn = Transaction.begin(
        transaction_id=transaction_id,
        payment_id=payment_id,
        type=kind,
        amount=amount,
        now=now,
        refund_id=refund_id,
    )
    transactions.append(txn)
    return txn


def open_of(transactions: Iterable[Transaction], kind: TransactionType) -> Transaction | None:
    return next((t for t in transactions if t.is_open and t.type is kind), None)


def open_ones(transactions: Iterable[Transaction]) -> list[Transaction]:
    return [t for t in transactions if t.is_open]


def require_none_open(
    payment_id: str, transactions: Iterable[Transaction], *, except_refunds: bool = False
) -> None:
    blocking = [
        t
        for t in open_ones(transactions)
        if not (except_refunds and t.type is TransactionType.REFUND)
    ]
    if blocking:
        txn = blocking[0]
        raise OperationInProgress(
            f"a {txn.type.value.lower()} of this payment is still {txn.status.value.lower()}",
            metadata={
                "payment_id": payment_id,
                "transaction_id": txn.id,
                "transaction_status": txn.status.value,
            },
        )


def pending_refunds(transactions: Iterable[Transaction], currency: str) -> Money:
    """The refunds still open: each may yet pay out, so each reserves its amount."""
    pending = Money.zero(currency)
    for t in transactions:
        if t.type is TransactionType.REFUND and t.is_open:
            pending += t.amount
    return pending


def mark_unknown(txn: Transaction, now: datetime, detail: str) -> None:
    txn.settle(
        TransactionStatus.UNKNOWN, now,
        failure_code="GATEWAY_OUTCOME_UNKNOWN", failure_reason=detail,
    )  # fmt: skip


def settle_failed(txn: Transaction, outcome: GatewayOutcome, now: datetime) -> None:
    """The gateway refused the operation: the transaction fails, carrying its code."""
    txn.settle(
        TransactionStatus.FAILED,
        now,
        failure_code=outcome.failure_code,
        failure_reason=outcome.failure_reason,
    )
