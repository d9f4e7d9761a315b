"""The Payment aggregate and its state machine.

Every change of state goes through a named method that checks TRANSITIONS and records the
domain events it causes. Gateway operations have two steps: `begin_*` records the intent as a
PENDING transaction (committed before the gateway is called) and `record_*` applies the
gateway's answer. An open (PENDING or UNKNOWN) operation blocks conflicting ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from domain import payment_events
from domain import payment_operations as operations
from domain.enums import (
    GatewayName,
    PaymentMethodType,
    PaymentStatus,
    TransactionStatus,
    TransactionType,
)
from domain.errors import (
    InvalidStateTransition,
)
from domain.events import (
    DomainEvent,
    PaymentRequiresAction,
)
from domain.gateway import GatewayOutcome, NextAction, OutcomeStatus
from domain.money import Money
from domain.payment_amounts import PaymentAmounts
from domain.payment_authentication import Authentication
from domain.payment_disputes import PaymentDisputes
from domain.payment_risk import PaymentRisk
from domain.payment_states import (
    AUTHORIZABLE,
    CANCEL_AT_ONCE,
    REFUNDABLE,
    VOID_AT_GATEWAY,
    S,
    require_status,
    require_transition,
)
from domain.payment_times import PaymentTimes
from domain.risk import FRAUD_SUSPECTED, RiskAssessment, RiskReview
from domain.settlement import Settlement
from domain.transaction import Transaction


@dataclass(slots=True)
class Payment:
    id: str
    order_id: str
    user_id: str
    amounts: PaymentAmounts
    payment_method_type: PaymentMethodType
    gateway: GatewayName
    created_at: datetime
    updated_at: datetime
    payment_method_id: str | None = None
    # The gateway token charged: either given directly or taken from the saved method.
    payment_method_token: str | None = None
    # The gateway's customer of the saved method, sent along with its token.
    gateway_customer_id: str | None = None
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    status: PaymentStatus = PaymentStatus.PENDING
    gateway_payment_id: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    retry_count: int = 0
    next_action: NextAction | None = None
    times: PaymentTimes = field(default_factory=PaymentTimes)
    cancellation_reason: str = ""
    authentication: Authentication = field(default_factory=Authentication)
    country: str = ""
    # Capture as soon as an authorization succeeds, whenever that is: at once, after 3-D
    # Secure, after a retry or after a fraud review (the order flow's AUTO_CAPTURE).
    capture_on_authorization: bool = False
    # The fraud checks' verdict on the latest authorization attempt, and its review.
    risk: PaymentRisk = field(default_factory=PaymentRisk)
    # The settlement currency and rate (domain/settlement.py); None: settled in the
    # presentment currency at rate 1 (payments written before revision 0019).
    settlement: Settlement | None = None
    # What its disputes (chargebacks) amount to; None: never disputed.
    disputes: PaymentDisputes | None = None
    version: int = 0
    transactions: list[Transaction] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)

    # --- derived amounts -----------------------------------------------------------------
    @property
    def amount(self) -> Money:
        return self.amounts.amount

    @property
    def currency(self) -> str:
        return self.amounts.currency

    @property
    def settles(self) -> Settlement:
        return self.settlement or Settlement.identity(self.currency, self.created_at)

    @property
    def settlement_amount(self) -> Money:
        return self.settles.convert(self.amount)

    def settle_in(self, settlement: Settlement) -> None:
        """The settlement currency and rate, chosen when the payment is created."""
        self.settlement = settlement
        self.amounts = self.amounts.settled_in(settlement.currency)

    @property
    def net_amount(self) -> Money:
        """What the merchant keeps: captured, less refunded, less the disputes lost. Below
        zero when a refunded payment's dispute is lost as well (the money went back twice)."""
        net = self.amounts.captured - self.amounts.refunded
        return net - self.disputes.lost if self.disputes is not None else net

    def note_disputes(self, disputes: PaymentDisputes | None, now: datetime) -> bool:
        """Its disputes changed (a gateway reported one); True when the summary did."""
        if disputes == self.disputes:
            return False
        self.disputes = disputes
        self.updated_at = now
        return True

    @property
    def refundable(self) -> Money:
        """What a new refund may still take: captured, less refunded and in-flight refunds."""
        return self.amounts.refundable(operations.pending_refunds(self.transactions, self.currency))

    @property
    def open_operations(self) -> list[Transaction]:
        return operations.open_ones(self.transactions)

    def transaction(self, transaction_id: str) -> Transaction:
        return operations.find(self.transactions, transaction_id)

    # --- guards --------------------------------------------------------------------------
    def _require_status(self, allowed: frozenset[PaymentStatus], operation: str) -> None:
        require_status(self.id, self.status, allowed, operation)

    def _require_no_open_operation(self, *, except_refunds: bool = False) -> None:
        operations.require_none_open(self.id, self.transactions, except_refunds=except_refunds)

    def _move_to(self, target: PaymentStatus, now: datetime) -> None:
        require_transition(self.id, self.status, target)
        self.status = target
        self.updated_at = now

    def _begin(
        self,
        kind: TransactionType,
        amount: Money,
        txn_id: str,
        now: datetime,
        refund_id: str | None = None,
    ) -> Transaction:
        self.updated_at = now
        return operations.begin(self.transactions, self.id, kind, amount, txn_id, now, refund_id)

    def _open_transaction(self, transaction_id: str, kind: TransactionType) -> Transaction:
        return operations.of_kind(self.transactions, transaction_id, kind)

    # --- fraud checks and review ---------------------------------------------------------
    def require_authorizable(self) -> None:
        self._require_status(AUTHORIZABLE, "authorize")
        self._require_no_open_operation()
        self.risk.require_not_rejected(self.id, self.status)

    def record_risk(self, assessment: RiskAssessment) -> None:
        """A new verdict; an earlier review was about an earlier one."""
        self.risk = self.risk.assessed(assessment)

    def block_for_fraud(self, assessment: RiskAssessment, now: datetime, event_id: str) -> None:
        self.require_authorizable()
        self.record_risk(assessment)
        self._fail(FRAUD_SUSPECTED, "refused by the fraud checks", now, event_id)

    def hold_for_review(self, assessment: RiskAssessment, now: datetime, event_id: str) -> None:
        self.require_authorizable()
        self.record_risk(assessment)
        self._move_to(S.UNDER_REVIEW, now)
        self.failure_code = self.failure_reason = None
        self.next_action = None
        self.events.append(payment_events.requires_review(self, now, event_id))

    def approve_review(self, review: RiskReview, now: datetime) -> None:
        """Back to PENDING; the caller begins the authorization in the same transaction."""
        self.risk = self.risk.reviewed(review, self.id, self.status)
        self._move_to(S.PENDING, now)

    def reject_review(self, review: RiskReview, now: datetime, event_id: str) -> None:
        self.risk = self.risk.reviewed(review, self.id, self.status)
        self._fail(FRAUD_SUSPECTED, f"rejected in review: {review.reason}"[:500], now, event_id)

    # --- authorization -------------------------------------------------------------------
    def begin_authorization(
        self,
        *,
        transaction_id: str,
        now: datetime,
        payment_method_id: str | None = None,
        payment_method_token: str | None = None,
        gateway_customer_id: str | None = None,
    ) -> Transaction:
        self.require_authorizable()
        if any(t.type is TransactionType.AUTHORIZATION for t in self.transactions):
            self.retry_count += 1
        if payment_method_token:
            self.payment_method_id = payment_method_id
            self.payment_method_token = payment_method_token
            self.gateway_customer_id = gateway_customer_id
        return self._begin(TransactionType.AUTHORIZATION, self.amount, transaction_id, now)

    @property
    def can_fail_over(self) -> bool:
        """Only a payment no gateway has seen may move to another gateway; a saved method's
        token belongs to its own gateway."""
        return (
            self.status in AUTHORIZABLE
            and self.gateway_payment_id is None
            and self.payment_method_id is None
            and not self.open_operations
        )

    def fail_over_to(self, gateway: GatewayName, now: datetime) -> None:
        if not self.can_fail_over:
            raise InvalidStateTransition(
                "this payment can no longer move to another gateway",
                metadata={"payment_id": self.id, "gateway": self.gateway.value},
            )
        self.gateway = gateway
        self.updated_at = now

    def show_newer_instructions(self, action: NextAction, now: datetime) -> bool:
        """The gateway's newer bank-transfer instructions while the payment waits for the
        transfer (partly paid: less remains). Nothing else changes; False if nothing did."""
        waiting = self.next_action is not None and self.next_action.type is action.type
        if self.status is not S.REQUIRES_ACTION or not waiting or self.next_action == action:
            return False
        self.next_action = action
        self.updated_at = now
        return True

    def begin_confirmation(self, *, transaction_id: str, now: datetime) -> Transaction:
        """The customer did the next action: ask the gateway to finish the authorization."""
        self._require_status(frozenset({S.REQUIRES_ACTION}), "confirm")
        self._require_no_open_operation()
        return self._begin(TransactionType.AUTHORIZATION, self.amount, transaction_id, now)

    def record_authorization(
        self, transaction_id: str, outcome: GatewayOutcome, now: datetime, event_id: str
    ) -> None:
        txn = self._open_transaction(transaction_id, TransactionType.AUTHORIZATION)
        if ref := outcome.reference:
            self.gateway_payment_id = ref
        self.authentication = self.authentication.concluded(
            outcome.liability_shift,
            exemption_sent=outcome.sca_exemption_sent,
            exemption_applied=outcome.sca_exemption_applied,
        )
        if outcome.status is OutcomeStatus.SUCCEEDED:
            txn.settle(TransactionStatus.SUCCEEDED, now, gateway_transaction_id=ref)
            self._move_to(S.AUTHORIZED, now)
            self.amounts = self.amounts.authorize(txn.amount)
            self.times = replace(self.times, authorized_at=now)
            self.failure_code = self.failure_reason = None
            self.next_action = None
            self.events.append(payment_events.authorized(self, txn, now, event_id))
        elif outcome.status is OutcomeStatus.REQUIRES_ACTION:
            txn.settle(TransactionStatus.REQUIRES_ACTION, now, gateway_transaction_id=ref)
            self._move_to(S.REQUIRES_ACTION, now)
            self.failure_code = self.failure_reason = None
            self.next_action = outcome.next_action
            url = outcome.next_action.url if outcome.next_action else ""
            self.events.append(PaymentRequiresAction(event_id, self.id, self.order_id, now, url))
        else:
            code = outcome.failure_code or "CARD_DECLINED"
            reason = outcome.failure_reason or "the payment was declined"
            self.fail_authorization(txn.id, code, reason, now, event_id)

    def _fail(self, code: str, reason: str, now: datetime, event_id: str) -> None:
        self._move_to(S.FAILED, now)
        self.failure_code, self.failure_reason = code, reason
        self.times = replace(self.times, failed_at=now)
        self.next_action = None
        self.events.append(payment_events.failed(self, now, event_id))

    # --- capture -------------------------------------------------------------------------
    def begin_capture(
        self, *, transaction_id: str, now: datetime, amount_minor: int | None = None
    ) -> Transaction:
        self._require_status(frozenset({S.AUTHORIZED}), "capture")
        self._require_no_open_operation()
        amount = self.amounts.to_capture(amount_minor, self.id)
        return self._begin(TransactionType.CAPTURE, amount, transaction_id, now)

    def record_capture(
        self, transaction_id: str, outcome: GatewayOutcome, now: datetime, event_id: str
    ) -> None:
        txn = self._open_transaction(transaction_id, TransactionType.CAPTURE)
        if outcome.status is not OutcomeStatus.SUCCEEDED:
            # The authorization stands; the caller may try again.
            operations.settle_failed(txn, outcome, now)
            return
        txn.settle(TransactionStatus.SUCCEEDED, now, gateway_transaction_id=outcome.reference)
        self._move_to(S.CAPTURED, now)
        txn.settlement_amount = self.amounts.capture_settlement(self.settles, txn.amount)
        self.amounts = self.amounts.capture(txn.amount, txn.settlement_amount)
        self.times = replace(self.times, captured_at=now)
        self.events.append(payment_events.succeeded(self, txn, now, event_id))

    # --- cancel (void) -------------------------------------------------------------------
    def begin_cancellation(
        self, *, transaction_id: str, now: datetime, event_id: str, reason: str = ""
    ) -> Transaction | None:
        """Returns the VOID to send to the gateway, or None when nothing is held there and
        the payment is cancelled at once."""
        self._require_status(CANCEL_AT_ONCE | VOID_AT_GATEWAY, "cancel")
        self._require_no_open_operation()
        self.cancellation_reason = reason
        if self.status in VOID_AT_GATEWAY and self.gateway_payment_id:
            return self._begin(TransactionType.VOID, self.amounts.voidable, transaction_id, now)
        self._cancel(now, event_id)
        return None

    def record_void(
        self, transaction_id: str, outcome: GatewayOutcome, now: datetime, event_id: str
    ) -> None:
        txn = self._open_transaction(transaction_id, TransactionType.VOID)
        if outcome.status is not OutcomeStatus.SUCCEEDED:
            operations.settle_failed(txn, outcome, now)
            return
        txn.settle(TransactionStatus.SUCCEEDED, now, gateway_transaction_id=outcome.reference)
        self._cancel(now, event_id)

    def _cancel(self, now: datetime, event_id: str) -> None:
        self._move_to(S.CANCELLED, now)
        self.times = replace(self.times, cancelled_at=now)
        self.next_action = None
        self.events.append(payment_events.cancelled(self, now, event_id))

    # --- refunds -------------------------------------------------------------------------
    def begin_refund(
        self,
        *,
        transaction_id: str,
        refund_id: str,
        now: datetime,
        amount_minor: int | None = None,
    ) -> Transaction:
        self._require_status(REFUNDABLE, "refund")
        # Refunds may run side by side; each reserves its amount while it is open.
        self._require_no_open_operation(except_refunds=True)
        pending = operations.pending_refunds(self.transactions, self.currency)
        amount = self.amounts.to_refund(amount_minor, pending, self.id)
        return self._begin(TransactionType.REFUND, amount, transaction_id, now, refund_id)

    def record_refund(
        self, transaction_id: str, outcome: GatewayOutcome, now: datetime, event_id: str
    ) -> None:
        txn = self._open_transaction(transaction_id, TransactionType.REFUND)
        if outcome.status is not OutcomeStatus.SUCCEEDED:
            operations.settle_failed(txn, outcome, now)
            self.updated_at = now
            return
        txn.settle(TransactionStatus.SUCCEEDED, now, gateway_transaction_id=outcome.reference)
        txn.settlement_amount = self.amounts.refund_settlement(self.settles, txn.amount)
        self.amounts = self.amounts.refund(txn.amount, txn.settlement_amount)
        fully = self.amounts.fully_refunded
        self._move_to(S.REFUNDED if fully else S.PARTIALLY_REFUNDED, now)
        if fully:
            self.times = replace(self.times, refunded_at=now)
        self.events.append(payment_events.refunded(self, txn, now, event_id))

    # --- unknown outcomes ----------------------------------------------------------------
    def mark_outcome_unknown(self, transaction_id: str, now: datetime, detail: str) -> None:
        """The gateway call ended without an answer; the operation stays open until the
        reconciler learns what happened."""
        operations.mark_unknown(self.transaction(transaction_id), now, detail)
        self.updated_at = now

    def abandon_operation(self, transaction_id: str, now: datetime, code: str, detail: str) -> None:
        """The gateway certainly did not act (unreachable): close the intent, change nothing."""
        txn = self.transaction(transaction_id)
        txn.settle(TransactionStatus.FAILED, now, failure_code=code, failure_reason=detail)
        self.updated_at = now

    # --- facts reported by the gateway (webhooks; see payment_reports.py) ---------------
    def begin_reported(
        self,
        kind: TransactionType,
        amount: Money,
        transaction_id: str,
        now: datetime,
        refund_id: str | None = None,
        *,
        require_idle: bool = True,
    ) -> Transaction | None:
        """A new operation recording what the gateway reported, or None while an operation is
        open (`require_idle`): the API call or reconciler that opened it settles it."""
        if require_idle and self.open_operations:
            return None
        return self._begin(kind, amount, transaction_id, now, refund_id)

    def fail_authorization(
        self, transaction_id: str, code: str, reason: str, now: datetime, event_id: str
    ) -> None:
        txn = self._open_transaction(transaction_id, TransactionType.AUTHORIZATION)
        txn.settle(TransactionStatus.FAILED, now, failure_code=code, failure_reason=reason)
        self._fail(code, reason, now, event_id)

    def pull_events(self) -> list[DomainEvent]:
        events, self.events = self.events, []
        return events
