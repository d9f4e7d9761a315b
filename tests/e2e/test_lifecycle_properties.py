"""Random operation sequences on a few payments, through the gRPC API of the real server.

A hypothesis state machine drives authorize (with approving, declining and 3DS tokens),
capture, cancel and refund, with amounts around the limits, one at a time or two racing on
the same payment. Each answer is compared with a model of the lifecycle (a race may end as
either order, or with the later call refused as OPERATION_IN_PROGRESS), and after every step
the service's amounts, refunds and transaction log are checked against the invariants and
against the simulator gateway's own ledger.

The machine is synchronous and runs in a worker thread; its rules submit the calls to the
session event loop that owns the server and the channel.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

import grpc
from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.gateways.simulator import SimulatorGateway
from payments.v1 import payment_pb2, refund_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1.payment_service_pb2_grpc import PaymentServiceStub
from payments_client import PaymentsError
from tests.e2e.helpers import attempt, create_request, gateway_effects, new_id

R = TypeVar("R")

DECLINES = {
    "pm_card_chargeDeclined": "CARD_DECLINED",
    "pm_card_chargeDeclinedInsufficientFunds": "INSUFFICIENT_FUNDS",
}
THREE_DS = "pm_card_authenticationRequired"
TOKENS = ("pm_card_visa", "pm_card_mastercard", *DECLINES, THREE_DS)

FP, ABORTED = grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED
INVALID = grpc.StatusCode.INVALID_ARGUMENT
# The documented answers to these operations when the gateway is up.
DOCUMENTED = {
    (INVALID, "VALIDATION_FAILED"),
    (FP, "INVALID_STATE_TRANSITION"),
    (FP, "AMOUNT_EXCEEDS_CAPTURABLE"),
    (FP, "AMOUNT_EXCEEDS_REFUNDABLE"),
    *((FP, reason) for reason in DECLINES.values()),
    (ABORTED, "OPERATION_IN_PROGRESS"),
    (ABORTED, "CONCURRENT_MODIFICATION"),
}
IN_PROGRESS = ("ABORTED", "OPERATION_IN_PROGRESS")
NOT_NOW = ("FAILED_PRECONDITION", "INVALID_STATE_TRANSITION")
OK = ("OK", "")
Outcome = tuple[str, str]  # ("OK", detail) or (status code name, ErrorInfo reason)

ALLOWED_FROM = {
    "authorize": {"PENDING", "FAILED"},
    "capture": {"AUTHORIZED"},
    "cancel": {"PENDING", "FAILED", "AUTHORIZED", "REQUIRES_ACTION"},
    "refund": {"CAPTURED", "PARTIALLY_REFUNDED"},
}


@dataclass(frozen=True)
class Op:
    kind: str  # authorize | capture | cancel | refund
    amount: int | None = None  # capture / refund; None: all of it
    token: str = ""  # authorize; empty: keep the payment's token


@dataclass(frozen=True)
class Intent:
    """An operation as drawn. What it means is settled when the call is made, from the
    payment's model then (races make that vary from run to run, and what hypothesis draws
    must not): capture and refund amounts are a share of what the payment allows, and
    "advance" is the operation that moves the payment on from where it is."""

    kind: str  # advance | authorize | capture | cancel | refund
    share: int | None = None  # percent; None: all of it; 0 and below are invalid; >100 too much
    token: str = ""

    def resolve(self, m: Model) -> Op:
        kind = ADVANCE.get(m.status, "refund") if self.kind == "advance" else self.kind
        if kind not in ("capture", "refund"):
            return Op(kind, token=self.token)
        if kind == "capture":
            limit = m.authorized or m.amount
        else:
            limit = (m.captured - m.refunded) or m.amount
        if self.share is None or self.share <= 0:
            return Op(kind, self.share)
        if self.share > 100:
            return Op(kind, limit + self.share - 100)
        return Op(kind, max(1, limit * self.share // 100))


ADVANCE = {
    "PENDING": "authorize",
    "FAILED": "authorize",
    "REQUIRES_ACTION": "cancel",
    "AUTHORIZED": "capture",
    "CAPTURED": "refund",
    "PARTIALLY_REFUNDED": "refund",
}
# Mostly approving tokens, so that payments get past authorization; "" keeps the current one.
tokens = st.sampled_from(("", "", "pm_card_visa", "pm_card_mastercard", *DECLINES, THREE_DS))
shares = st.none() | st.integers(1, 100) | st.sampled_from((100, 101, 150, 0, -1))
intents = st.one_of(
    st.builds(Intent, st.just("advance"), shares, tokens),
    st.builds(Intent, st.just("advance"), shares, tokens),
    st.builds(Intent, st.just("authorize"), token=tokens),
    st.builds(Intent, st.just("capture"), shares),
    st.just(Intent("cancel")),
    st.builds(Intent, st.just("refund"), shares),
)


@dataclass(frozen=True)
class Model:
    """What the service should hold for one payment."""

    amount: int
    token: str
    status: str = "PENDING"
    authorized: int = 0
    captured: int = 0
    refunded: int = 0
    attempts: int = 0  # AUTHORIZATION transactions
    charge: str | None = None  # status of the payment's current charge at the gateway
    refunds: tuple[int, ...] = ()

    def view(self) -> tuple[object, ...]:
        retries = max(self.attempts - 1, 0)
        return (self.status, self.authorized, self.captured, self.refunded, retries)

    def observable(self) -> tuple[object, ...]:
        return (*self.view(), self.charge)


def step(m: Model, op: Op) -> tuple[Model, Outcome, bool]:
    """The sequential semantics: the new model, the answer, and whether the operation held
    an open gateway operation on the payment while it ran."""
    if op.amount is not None and op.amount <= 0:
        return m, ("INVALID_ARGUMENT", "VALIDATION_FAILED"), False
    if m.status not in ALLOWED_FROM[op.kind]:
        return m, NOT_NOW, False
    if op.kind == "authorize":
        token = op.token or m.token
        m = replace(m, token=token, attempts=m.attempts + 1)
        if token in DECLINES:
            declined = ("FAILED_PRECONDITION", DECLINES[token])
            return replace(m, status="FAILED", charge="declined"), declined, True
        if token == THREE_DS:
            return replace(m, status="REQUIRES_ACTION", charge="requires_action"), OK, True
        held = replace(m, status="AUTHORIZED", authorized=m.amount, charge="authorized")
        return held, OK, True
    if op.kind == "capture":
        amount = m.authorized if op.amount is None else op.amount
        if amount > m.authorized:
            return m, ("FAILED_PRECONDITION", "AMOUNT_EXCEEDS_CAPTURABLE"), False
        return replace(m, status="CAPTURED", captured=amount, charge="captured"), OK, True
    if op.kind == "cancel":
        if m.status in ("AUTHORIZED", "REQUIRES_ACTION"):
            return replace(m, status="CANCELLED", charge="voided"), OK, True
        return replace(m, status="CANCELLED"), OK, False  # nothing held at the gateway
    refundable = m.captured - m.refunded
    amount = refundable if op.amount is None else op.amount
    if amount <= 0 or amount > refundable:  # nothing left while others are reserved
        return m, ("FAILED_PRECONDITION", "AMOUNT_EXCEEDS_REFUNDABLE"), False
    refunded = m.refunded + amount
    status = "REFUNDED" if refunded == m.captured else "PARTIALLY_REFUNDED"
    m = replace(m, status=status, refunded=refunded, refunds=(*m.refunds, amount))
    return m, ("OK", str(amount)), True


def would_wait(m: Model, op: Op) -> bool:
    """Whether `op` reaches the open-operation check (validation and status pass)."""
    return (op.amount is None or op.amount > 0) and m.status in ALLOWED_FROM[op.kind]


def race_ends(m: Model, a: Op, b: Op) -> list[tuple[Model, Outcome, Outcome]]:
    """Every allowed end of running a and b at once: either order, or the second beginning
    while the first's gateway operation is open. Then it is refused as OPERATION_IN_PROGRESS,
    except a refund beside a refund: it may run, but sees the first one's amount reserved."""
    ends = []
    for first, second, swapped in ((a, b, False), (b, a, True)):

        def ordered(r1: Outcome, r2: Outcome, swapped: bool = swapped) -> tuple[Outcome, Outcome]:
            return (r2, r1) if swapped else (r1, r2)

        m1, r1, held = step(m, first)
        m2, r2, _ = step(m1, second)
        ends.append((m2, *ordered(r1, r2)))
        if not (held and would_wait(m, second)):
            continue
        if first.kind == second.kind == "refund":
            reserved = replace(m, refunded=m.refunded + int(r1[1]))
            _, r2, _ = step(reserved, second)
            m2 = step(m1, Op("refund", int(r2[1])))[0] if r2[0] == "OK" else m1
            ends.append((m2, *ordered(r1, r2)))
        else:
            ends.append((m1, *ordered(r1, IN_PROGRESS)))
    return ends


def status_name(status: int) -> str:
    return payment_pb2.PaymentStatus.Name(status).removeprefix("PAYMENT_STATUS_")


def view_of(p: payment_pb2.Payment) -> tuple[object, ...]:
    return (
        status_name(p.status),
        p.authorized_amount_minor,
        p.captured_amount_minor,
        p.refunded_amount_minor,
        p.retry_count,
    )


def outcome_of(result: Any) -> Outcome:
    if isinstance(result, PaymentsError):
        assert (result.code, result.reason) in DOCUMENTED, f"undocumented answer {result}"
        return result.code.name, result.reason
    if isinstance(result, pb.RefundPaymentResponse):
        assert result.refund.status == refund_pb2.REFUND_STATUS_PROCESSED, result.refund
        return "OK", str(result.refund.amount_minor)
    return OK


def check_invariants(p: payment_pb2.Payment) -> None:
    """What must hold for any payment, whatever happened to it."""
    authorized, captured = p.authorized_amount_minor, p.captured_amount_minor
    refunded = p.refunded_amount_minor
    assert 0 <= refunded <= captured <= authorized <= p.amount_minor, p
    status = status_name(p.status)
    if status in ("PENDING", "FAILED", "REQUIRES_ACTION"):
        assert authorized == captured == 0, p
    elif status == "AUTHORIZED":
        assert (authorized, captured) == (p.amount_minor, 0), p
    elif status == "CAPTURED":
        assert captured > 0 and refunded == 0, p
    elif status == "PARTIALLY_REFUNDED":
        assert 0 < refunded < captured, p
    elif status == "REFUNDED":
        assert 0 < refunded == captured, p
    else:
        assert status == "CANCELLED" and captured == 0, p
    if status not in ("FAILED", "CANCELLED"):  # a cancelled payment keeps its last failure
        assert not p.failure_code, p
    open_ = {payment_pb2.TRANSACTION_STATUS_PENDING, payment_pb2.TRANSACTION_STATUS_UNKNOWN}
    assert not [t for t in p.transactions if t.status in open_], p


@dataclass(frozen=True)
class Context:
    loop: asyncio.AbstractEventLoop
    stub: PaymentServiceStub
    simulator: SimulatorGateway
    engine: AsyncEngine


@dataclass(frozen=True)
class Fresh:
    """A payment to create in a slot that is empty, or whose payment is over (if `renew`)."""

    amount: int
    token: str
    renew: bool


fresh_payments = st.builds(
    Fresh,
    st.integers(1, 100) | st.integers(1, 5000),
    st.sampled_from(("pm_card_visa", "pm_card_visa", "pm_card_mastercard", *DECLINES, THREE_DS)),
    st.sampled_from((True, True, True, False)),
)
slots = st.integers(0, 2)
TERMINAL = {"CANCELLED", "REFUNDED"}


class PaymentLifecycleOverGrpc(RuleBasedStateMachine):
    """Three slots, each holding a payment; a payment that is over is mostly replaced by a
    fresh one when its slot is picked again, so that the steps reach deep states."""

    ctx: ClassVar[Context]

    def __init__(self) -> None:
        super().__init__()
        self.slots: dict[int, str] = {}
        self.models: dict[str, Model] = {}

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        return asyncio.run_coroutine_threadsafe(coro, self.ctx.loop).result(timeout=60)

    def payment_in(self, slot: int, fresh: Fresh) -> str:
        current = self.slots.get(slot)
        if current is not None and not (fresh.renew and self.models[current].status in TERMINAL):
            return current
        request = create_request(amount_minor=fresh.amount, payment_method_token=fresh.token)
        created = self.run(self.create_payment(request))
        assert status_name(created.status) == "PENDING"
        self.check(created.payment_id, [Model(fresh.amount, fresh.token)])
        self.slots[slot] = created.payment_id
        return created.payment_id

    # --- rules ---------------------------------------------------------------------------
    @rule(slot=slots, fresh=fresh_payments, intent=intents)
    def operate(self, slot: int, fresh: Fresh, intent: Intent) -> None:
        payment_id = self.payment_in(slot, fresh)
        before = self.models[payment_id]
        op = intent.resolve(before)
        note(f"{op} on {before}")
        after, expected, _ = step(before, op)
        result = self.run(attempt(self.call(payment_id, op)))
        assert outcome_of(result) == expected, (op, result)
        if not isinstance(result, PaymentsError):
            assert view_of(result.payment) == after.view()
        self.check(payment_id, [after])

    @rule(slot=slots, fresh=fresh_payments, first=intents, second=intents)
    def race(self, slot: int, fresh: Fresh, first: Intent, second: Intent) -> None:
        payment_id = self.payment_in(slot, fresh)
        before = self.models[payment_id]
        a, b = first.resolve(before), second.resolve(before)
        note(f"{a} racing {b} on {before}")

        async def both() -> list[Any]:
            calls = (attempt(self.call(payment_id, a)), attempt(self.call(payment_id, b)))
            return list(await asyncio.gather(*calls))

        result_a, result_b = self.run(both())
        answers = (outcome_of(result_a), outcome_of(result_b))
        ends = [m for m, ra, rb in race_ends(before, a, b) if (ra, rb) == answers]
        assert ends, (a, b, answers)
        self.check(payment_id, ends)

    # --- calls ---------------------------------------------------------------------------
    async def call(self, payment_id: str, op: Op) -> Any:
        stub, request_id = self.ctx.stub, new_id()
        if op.kind == "authorize":
            return await stub.AuthorizePayment(
                pb.AuthorizePaymentRequest(
                    payment_id=payment_id, request_id=request_id, payment_method_token=op.token
                )
            )
        if op.kind == "cancel":
            return await stub.CancelPayment(
                pb.CancelPaymentRequest(payment_id=payment_id, request_id=request_id)
            )
        if op.kind == "capture":
            capture = pb.CapturePaymentRequest(payment_id=payment_id, request_id=request_id)
            if op.amount is not None:
                capture.amount_minor = op.amount
            return await stub.CapturePayment(capture)
        refund = pb.RefundPaymentRequest(payment_id=payment_id, request_id=request_id)
        if op.amount is not None:
            refund.amount_minor = op.amount
        return await stub.RefundPayment(refund)

    # Coroutines only: a gRPC call must be created on the loop that owns the channel.
    async def create_payment(self, request: pb.CreatePaymentRequest) -> payment_pb2.Payment:
        return (await self.ctx.stub.CreatePayment(request)).payment

    async def get(self, payment_id: str) -> payment_pb2.Payment:
        request = pb.GetPaymentRequest(payment_id=payment_id)
        return (await self.ctx.stub.GetPayment(request)).payment

    def charge_status(self, p: payment_pb2.Payment) -> str | None:
        if not p.gateway_payment_id:
            return None
        return self.ctx.simulator.charges[p.gateway_payment_id].status

    # --- checks --------------------------------------------------------------------------
    def check(self, payment_id: str, expected: list[Model]) -> None:
        """Check the payment against the invariants, the gateway's ledger and the one of the
        expected models it matches, which becomes the payment's model."""
        self.models[payment_id] = self.run(self.check_against_gateway(payment_id, expected))

    async def check_against_gateway(self, payment_id: str, expected: list[Model]) -> Model:
        stub, simulator = self.ctx.stub, self.ctx.simulator
        listing = pb.ListRefundsRequest(payment_id=payment_id, page_size=500)
        p, effects, listed_answer = await asyncio.gather(
            self.get(payment_id),
            gateway_effects(self.ctx.engine, simulator, payment_id),
            stub.ListRefunds(listing),
        )
        check_invariants(p)
        seen = (*view_of(p), self.charge_status(p))
        fitting = [m for m in expected if m.observable() == seen]
        assert fitting, (seen, expected)
        model = fitting[0]

        # The gateway's ledger agrees with the service.
        if p.gateway_payment_id:
            charge = simulator.charges[p.gateway_payment_id]
            assert charge.amount_minor == p.amount_minor
            assert (charge.captured_minor, charge.refunded_minor) == (
                p.captured_amount_minor,
                p.refunded_amount_minor,
            )
        moved = Counter(kind for kind, _, _ in effects)
        assert moved["authorize"] == (1 if p.authorized_amount_minor else 0), effects
        captures = [amount for kind, _, amount in effects if kind == "capture"]
        assert captures == ([p.captured_amount_minor] if p.captured_amount_minor else [])
        assert moved["void"] == (1 if model.charge == "voided" else 0), effects
        refunds = sorted(amount for kind, _, amount in effects if kind == "refund")
        assert refunds == sorted(model.refunds), (effects, model)

        # And so do the refunds and the transaction log.
        listed = listed_answer.refunds
        assert {r.status for r in listed} <= {refund_pb2.REFUND_STATUS_PROCESSED}
        assert sorted(r.amount_minor for r in listed) == sorted(model.refunds)
        kinds = Counter(payment_pb2.TransactionType.Name(t.type) for t in p.transactions)
        assert kinds["TRANSACTION_TYPE_AUTHORIZATION"] == model.attempts
        assert kinds["TRANSACTION_TYPE_REFUND"] == len(model.refunds)
        return model


SETTINGS = settings(
    max_examples=20,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # No shrinking: every step is real RPCs, and shrinking would outlast the suite's timeout
    # and hide the failure behind it. A failing run prints its (at most 15) steps as found.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


async def test_random_lifecycles_keep_the_service_and_the_gateway_in_step(
    payments_stub: PaymentServiceStub, simulator: SimulatorGateway, engine: AsyncEngine
) -> None:
    ctx = Context(asyncio.get_running_loop(), payments_stub, simulator, engine)
    machine = type("Machine", (PaymentLifecycleOverGrpc,), {"ctx": ctx})
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=SETTINGS)
