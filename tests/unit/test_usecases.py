"""The use cases in domain/usecases, run against the in-memory fakes of their ports."""

from __future__ import annotations

from typing import Any

import pytest

from domain.commands import (
    AddPaymentMethod,
    AuthorizePayment,
    CancelPayment,
    CapturePayment,
    CreatePayment,
    RefundPayment,
)
from domain.enums import (
    GatewayName,
    PaymentMethodType,
    PaymentStatus,
    RefundStatus,
    ScaExemption,
    TransactionStatus,
    TransactionType,
)
from domain.errors import (
    AmountExceedsCapturable,
    AmountExceedsRefundable,
    ErrorKind,
    GatewayOutcomeUnknown,
    GatewayUnavailable,
    InvalidStateTransition,
    OperationInProgress,
    PaymentAlreadyExists,
    PaymentDeclined,
    PaymentMethodNotFound,
    PaymentMethodUnusable,
    PaymentNotFound,
    RefundNotFound,
    ScaExemptionUnsupported,
    UnsupportedCurrency,
    ValidationFailed,
    reason_of,
)
from domain.gateway import (
    AuthorizationRequest,
    GatewayCapabilities,
    GatewayOperationRequest,
    GatewayOutcome,
    MethodSupport,
    OutcomeStatus,
)
from domain.money import Money
from domain.payment import Payment
from domain.payment_method import PaymentMethod
from domain.usecases.operations import authorize_payment, cancel_payment, capture_payment
from domain.usecases.payment_methods import (
    add_payment_method,
    delete_payment_method,
    list_payment_methods,
    set_default_payment_method,
)
from domain.usecases.payments import create_payment, get_payment
from domain.usecases.refunds import get_refund, list_refunds, refund_payment
from tests.unit.fakes import (
    FakeGateway,
    FakePorts,
    GatewayCall,
    declined,
    order_id,
    outcome_unknown,
    requires_action,
    unavailable,
    user_id,
)

ALICE, BOB = user_id(1), user_id(2)
UNKNOWN_ID = "99999999-9999-4999-8999-999999999999"


# --- helpers ---------------------------------------------------------------------------------
def create_command(**changes: Any) -> CreatePayment:
    fields: dict[str, Any] = {
        "order_id": order_id(1),
        "user_id": ALICE,
        "amount_minor": 10_000,
        "currency": "EUR",
        "payment_method_type": PaymentMethodType.CREDIT_CARD,
        "payment_method_token": "pm_card_visa",
        "description": "order #1",
    }
    fields.update(changes)
    return CreatePayment(**fields)


async def created(ports: FakePorts, **changes: Any) -> Payment:
    return await create_payment(create_command(**changes), ports.deps)


async def authorized(ports: FakePorts, **changes: Any) -> Payment:
    payment = await created(ports, **changes)
    return await authorize_payment(AuthorizePayment(payment.id), ports.deps)


async def captured(ports: FakePorts, **changes: Any) -> Payment:
    payment = await authorized(ports, **changes)
    return await capture_payment(CapturePayment(payment.id), ports.deps)


async def saved_method(
    ports: FakePorts,
    user: str = ALICE,
    token: str = "pm_card_visa",
    method_type: PaymentMethodType = PaymentMethodType.CREDIT_CARD,
    **changes: Any,
) -> PaymentMethod:
    command = AddPaymentMethod(user, method_type, token, **changes)
    return await add_payment_method(command, ports.deps)


def violated_fields(error: ValidationFailed) -> list[str]:
    return [v.field for v in error.violations]


def stored(ports: FakePorts, payment_id: str) -> Payment:
    return ports.uow.committed_payment(payment_id)


# --- create ----------------------------------------------------------------------------------
async def test_create_stores_a_pending_payment(ports: FakePorts) -> None:
    payment = await created(ports)
    assert payment.status is PaymentStatus.PENDING
    assert payment.amount == Money(10_000, "EUR")
    assert payment.gateway is GatewayName.SIMULATOR
    assert payment.payment_method_token == "pm_card_visa"
    assert stored(ports, payment.id) == payment
    assert ports.directory.choices == [(PaymentMethodType.CREDIT_CARD, "EUR", None)]
    assert ports.gateway.calls == []  # nothing is charged before authorization
    assert ports.uow.event_types() == []


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"amount_minor": -100}, ["amount_minor"]),
        ({"amount_minor": 0}, ["amount_minor"]),
        ({"currency": "EURO"}, ["currency"]),
        ({"currency": "eur"}, ["currency"]),
        ({"order_id": ""}, ["order_id"]),
        ({"order_id": "order-1"}, ["order_id"]),
        ({"user_id": ""}, ["user_id"]),
        ({"payment_method_token": ""}, ["payment_method_token"]),
        ({"payment_method_token": "4242 4242 4242 4242"}, ["payment_method_token"]),
        ({"payment_method_type": None}, ["payment_method_type"]),
        ({"description": "x" * 501}, ["description"]),
        ({"metadata": {"note": "card 4242424242424242"}}, ["metadata[note]"]),
        (
            {"amount_minor": -1, "currency": "EURO", "order_id": ""},
            ["order_id", "amount_minor", "currency"],
        ),
    ],
)
async def test_create_reports_every_invalid_field(
    ports: FakePorts, changes: dict[str, Any], fields: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await created(ports, **changes)
    assert violated_fields(caught.value) == fields
    assert caught.value.kind is ErrorKind.INVALID_ARGUMENT
    assert ports.uow.db.payments == {}


async def test_missing_order_id_is_reported_as_required(ports: FakePorts) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await created(ports, order_id="")
    [violation] = caught.value.violations
    assert (violation.field, violation.reason) == ("order_id", "REQUIRED")


async def test_create_refuses_an_unsupported_currency(ports: FakePorts) -> None:
    with pytest.raises(UnsupportedCurrency) as caught:
        await created(ports, currency="XYZ")
    assert caught.value.reason == "UNSUPPORTED_CURRENCY"
    assert caught.value.metadata == {"currency": "XYZ"}
    assert [v.field for v in caught.value.violations] == ["currency"]
    assert ports.uow.db.payments == {}


@pytest.mark.parametrize(("currency", "amount"), [("JPY", 500), ("KWD", 1234), ("GBP", 1)])
async def test_create_accepts_every_supported_currency(
    ports: FakePorts, currency: str, amount: int
) -> None:
    payment = await created(ports, currency=currency, amount_minor=amount)
    assert stored(ports, payment.id).amount == Money(amount, currency)


async def test_a_second_payment_for_an_order_is_refused(ports: FakePorts) -> None:
    first = await created(ports)
    with pytest.raises(PaymentAlreadyExists) as caught:
        await created(ports, amount_minor=5)
    assert caught.value.metadata["payment_id"] == first.id
    assert caught.value.kind is ErrorKind.ALREADY_EXISTS
    assert list(ports.uow.db.payments) == [first.id]
    other = await created(ports, order_id=order_id(2))
    assert set(ports.uow.db.payments) == {first.id, other.id}


async def test_get_payment(ports: FakePorts) -> None:
    payment = await created(ports)
    assert await get_payment(payment.id, ports.deps) == payment
    with pytest.raises(PaymentNotFound):
        await get_payment(UNKNOWN_ID, ports.deps)
    with pytest.raises(ValidationFailed) as caught:
        await get_payment("pay_1", ports.deps)
    assert violated_fields(caught.value) == ["payment_id"]


# --- authorize -------------------------------------------------------------------------------
async def test_authorize_records_the_intent_before_calling_the_gateway(ports: FakePorts) -> None:
    payment = await created(ports)
    seen: list[tuple[bool, list[TransactionStatus]]] = []

    def during_call(call: GatewayCall) -> None:
        committed = stored(ports, payment.id)
        seen.append((ports.uow.active, [t.status for t in committed.transactions]))

    ports.gateway.on_call = during_call
    result = await authorize_payment(AuthorizePayment(payment.id), ports.deps)

    # The gateway is called outside any transaction, after the PENDING intent was committed.
    assert seen == [(False, [TransactionStatus.PENDING])]
    [call] = ports.gateway.calls
    request = call.request
    assert isinstance(request, AuthorizationRequest)
    [txn] = result.transactions
    assert request.idempotency_key == txn.idempotency_key == f"payments-{txn.id}"
    assert (request.payment_id, request.amount) == (payment.id, Money(10_000, "EUR"))
    assert request.payment_method_token == "pm_card_visa"
    assert request.payment_method_type is PaymentMethodType.CREDIT_CARD
    assert result.status is PaymentStatus.AUTHORIZED
    assert stored(ports, payment.id) == result
    assert result.gateway_payment_id == "gw_authorize_1"
    assert ports.uow.event_types() == ["payment.authorized"]


async def test_a_decline_raises_and_persists_the_failed_payment(ports: FakePorts) -> None:
    payment = await created(ports)
    ports.gateway.will("authorize", declined("CARD_DECLINED", "Your card was declined."))
    with pytest.raises(PaymentDeclined) as caught:
        await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    error = caught.value
    assert error.code == reason_of(error) == "CARD_DECLINED"
    assert error.message == "Your card was declined."
    assert error.metadata["payment_id"] == payment.id
    assert error.metadata["status"] == "FAILED"
    after = stored(ports, payment.id)
    assert after.status is PaymentStatus.FAILED
    assert (after.failure_code, after.failure_reason) == ("CARD_DECLINED", error.message)
    assert after.transactions[-1].status is TransactionStatus.FAILED
    assert ports.uow.event_types() == ["payment.failed"]


async def test_retry_after_a_decline_with_another_card(ports: FakePorts) -> None:
    payment = await created(ports)
    ports.gateway.will("authorize", declined("INSUFFICIENT_FUNDS", "not enough money"))
    with pytest.raises(PaymentDeclined) as caught:
        await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    assert caught.value.code == "INSUFFICIENT_FUNDS"

    retried = await authorize_payment(
        AuthorizePayment(payment.id, payment_method_token="pm_card_mastercard"), ports.deps
    )
    assert retried.status is PaymentStatus.AUTHORIZED
    assert retried.retry_count == 1
    assert retried.failure_code is None
    first, second = (call.request for call in ports.gateway.calls_to("authorize"))
    assert isinstance(first, AuthorizationRequest) and isinstance(second, AuthorizationRequest)
    assert (first.payment_method_token, second.payment_method_token) == (
        "pm_card_visa",
        "pm_card_mastercard",
    )
    assert first.idempotency_key != second.idempotency_key  # a new attempt, not a replay
    assert ports.uow.event_types() == ["payment.failed", "payment.authorized"]


async def test_authorization_may_require_action(ports: FakePorts) -> None:
    payment = await created(ports)
    ports.gateway.will("authorize", requires_action("https://3ds.example/challenge/7"))
    result = await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    assert result.status is PaymentStatus.REQUIRES_ACTION
    assert result.next_action is not None
    assert result.next_action.url == "https://3ds.example/challenge/7"
    assert stored(ports, payment.id).status is PaymentStatus.REQUIRES_ACTION
    assert ports.uow.event_types() == ["payment.requires_action"]


async def test_an_unreachable_gateway_changes_nothing_but_the_transaction(
    ports: FakePorts,
) -> None:
    payment = await created(ports)
    ports.gateway.will("authorize", unavailable())
    with pytest.raises(GatewayUnavailable):
        await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    after = stored(ports, payment.id)
    assert (after.status, after.retry_count, after.amounts.authorized.amount_minor) == (
        PaymentStatus.PENDING,
        0,
        0,
    )
    assert (after.gateway_payment_id, after.failure_code) == (None, None)
    [txn] = after.transactions
    assert (txn.status, txn.failure_code) == (TransactionStatus.FAILED, "GATEWAY_UNAVAILABLE")
    assert after.open_operations == []
    assert ports.uow.event_types() == []
    # Nothing is in flight, so the caller may simply try again.
    again = await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    assert again.status is PaymentStatus.AUTHORIZED


async def test_an_unconfigured_gateway_leaves_no_operation_in_flight(ports: FakePorts) -> None:
    payment = await created(ports, gateway=GatewayName.STRIPE)
    with pytest.raises(GatewayUnavailable):
        await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    after = stored(ports, payment.id)
    assert after.status is PaymentStatus.PENDING
    assert after.open_operations == []  # else it would block the payment for good
    ports.directory.gateways[GatewayName.STRIPE] = FakeGateway(GatewayName.STRIPE)
    again = await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    assert again.status is PaymentStatus.AUTHORIZED


async def test_an_unknown_authorization_outcome_blocks_another_attempt(ports: FakePorts) -> None:
    payment = await created(ports)
    ports.gateway.will("authorize", outcome_unknown())
    with pytest.raises(GatewayOutcomeUnknown):
        await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    [txn] = stored(ports, payment.id).transactions
    assert txn.status is TransactionStatus.UNKNOWN
    with pytest.raises(OperationInProgress) as caught:
        await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    assert caught.value.metadata["transaction_id"] == txn.id
    with pytest.raises(OperationInProgress):
        await cancel_payment(CancelPayment(payment.id), ports.deps)
    assert len(ports.gateway.calls) == 1  # never sent twice


async def test_authorize_with_a_saved_method(ports: FakePorts) -> None:
    method = await saved_method(ports, token="pm_card_amex")
    payment = await created(ports)
    result = await authorize_payment(
        AuthorizePayment(payment.id, payment_method_id=method.id), ports.deps
    )
    assert (result.payment_method_id, result.payment_method_token) == (method.id, "pm_card_amex")
    request = ports.gateway.calls_to("authorize")[0].request
    assert isinstance(request, AuthorizationRequest)
    assert request.payment_method_token == "pm_card_amex"


async def test_another_users_saved_method_cannot_authorize(ports: FakePorts) -> None:
    bobs = await saved_method(ports, user=BOB, token="pm_bob")
    payment = await created(ports)
    with pytest.raises(PaymentMethodNotFound) as caught:
        await authorize_payment(AuthorizePayment(payment.id, payment_method_id=bobs.id), ports.deps)
    assert caught.value.metadata == {"payment_method_id": bobs.id}
    assert ports.gateway.calls_to("authorize") == []
    assert stored(ports, payment.id) == payment


async def test_a_saved_method_of_another_gateway_cannot_authorize(ports: FakePorts) -> None:
    ports.directory.gateways[GatewayName.PAYPAL] = FakeGateway(GatewayName.PAYPAL)
    paypal = await saved_method(
        ports, token="BA-123", method_type=PaymentMethodType.PAYPAL, gateway=GatewayName.PAYPAL
    )
    payment = await created(ports)  # a card payment on the simulator
    with pytest.raises(PaymentMethodUnusable):
        await authorize_payment(
            AuthorizePayment(payment.id, payment_method_id=paypal.id), ports.deps
        )
    assert ports.gateway.calls_to("authorize") == []
    assert stored(ports, payment.id) == payment


async def test_a_saved_method_of_another_type_cannot_authorize(ports: FakePorts) -> None:
    debit = await saved_method(ports, method_type=PaymentMethodType.DEBIT_CARD)
    payment = await created(ports)  # paid by CREDIT_CARD
    with pytest.raises(PaymentMethodUnusable) as caught:
        await authorize_payment(
            AuthorizePayment(payment.id, payment_method_id=debit.id), ports.deps
        )
    assert caught.value.metadata["type"] == "DEBIT_CARD"
    assert ports.gateway.calls_to("authorize") == []


async def test_the_sca_exemption_and_return_url_reach_the_gateway(ports: FakePorts) -> None:
    await authorized(
        ports, sca_exemption=ScaExemption.LOW_VALUE, return_url="https://shop.example/r"
    )
    [call] = ports.gateway.calls_to("authorize")
    assert isinstance(call.request, AuthorizationRequest)
    assert call.request.sca_exemption is ScaExemption.LOW_VALUE
    assert call.request.return_url == "https://shop.example/r"


async def test_a_merchant_initiated_payment_charges_a_saved_method(ports: FakePorts) -> None:
    with pytest.raises(ScaExemptionUnsupported) as refused:
        await created(ports, sca_exemption=ScaExemption.MERCHANT_INITIATED)
    assert refused.value.metadata["sca_exemption"] == "MERCHANT_INITIATED"
    assert ports.uow.db.payments == {} and ports.gateway.calls == []
    method = await saved_method(ports)
    await authorized(
        ports,
        sca_exemption=ScaExemption.MERCHANT_INITIATED,
        payment_method_id=method.id,
        payment_method_type=None,
        payment_method_token=None,
    )
    [call] = ports.gateway.calls_to("authorize")
    assert isinstance(call.request, AuthorizationRequest)
    assert call.request.sca_exemption is ScaExemption.MERCHANT_INITIATED
    assert call.request.customer_reference == method.gateway_customer_id


async def test_an_exemption_the_gateway_cannot_send_is_refused_before_anything_is_stored() -> None:
    cards = GatewayCapabilities((MethodSupport(PaymentMethodType.CREDIT_CARD),))
    ports = FakePorts(gateway=FakeGateway(capabilities=cards))
    with pytest.raises(ScaExemptionUnsupported) as refused:
        await created(ports, sca_exemption=ScaExemption.TRANSACTION_RISK_ANALYSIS)
    assert refused.value.metadata["gateway"] == "SIMULATOR"
    assert ports.uow.db.payments == {} and ports.gateway.calls == []


async def test_the_payment_records_what_was_sent_and_applied(ports: FakePorts) -> None:
    ports.gateway.will(
        "authorize",
        GatewayOutcome(
            OutcomeStatus.SUCCEEDED,
            "gw_1",
            sca_exemption_sent="low_value",
            sca_exemption_applied=True,
        ),
    )
    payment = await authorized(ports, sca_exemption=ScaExemption.LOW_VALUE)
    auth = stored(ports, payment.id).authentication
    assert (auth.sca_exemption, auth.sca_exemption_sent, auth.sca_exemption_applied) == (
        ScaExemption.LOW_VALUE, "low_value", True,
    )  # fmt: skip


async def test_saved_methods_of_a_user_share_one_gateway_customer(ports: FakePorts) -> None:
    first = await saved_method(ports, token="pm_card_visa")
    second = await saved_method(ports, token="pm_card_mastercard")
    assert first.gateway_customer_id is not None
    assert second.gateway_customer_id == first.gateway_customer_id
    attaches = ports.gateway.calls_to("attach_to_customer")
    assert [getattr(c.request, "customer_reference", "?") for c in attaches] == [
        None,
        first.gateway_customer_id,
    ]


async def test_a_payment_by_saved_method_sends_its_customer(ports: FakePorts) -> None:
    method = await saved_method(ports)
    payment = await created(ports, payment_method_token="", payment_method_id=method.id)
    await authorize_payment(AuthorizePayment(payment.id), ports.deps)
    [call] = ports.gateway.calls_to("authorize")
    assert isinstance(call.request, AuthorizationRequest)
    assert call.request.customer_reference == method.gateway_customer_id


# --- capture ---------------------------------------------------------------------------------
async def test_capture_in_full(ports: FakePorts) -> None:
    payment = await authorized(ports)
    result = await capture_payment(CapturePayment(payment.id), ports.deps)
    assert (result.status, result.amounts.captured.amount_minor) == (PaymentStatus.CAPTURED, 10_000)
    [call] = ports.gateway.calls_to("capture")
    assert call.request == GatewayOperationRequest(
        result.transactions[-1].idempotency_key, "gw_authorize_1", Money(10_000, "EUR")
    )
    assert stored(ports, payment.id) == result
    assert ports.uow.event_types() == ["payment.authorized", "payment.successful"]


async def test_partial_capture(ports: FakePorts) -> None:
    payment = await authorized(ports)
    result = await capture_payment(CapturePayment(payment.id, amount_minor=4000), ports.deps)
    assert (result.amounts.captured.amount_minor, result.amounts.authorized.amount_minor) == (
        4000,
        10_000,
    )
    assert stored(ports, payment.id).amounts.captured.amount_minor == 4000


async def test_capture_beyond_the_authorization_never_reaches_the_gateway(
    ports: FakePorts,
) -> None:
    payment = await authorized(ports)
    with pytest.raises(AmountExceedsCapturable):
        await capture_payment(CapturePayment(payment.id, amount_minor=10_001), ports.deps)
    assert ports.gateway.calls_to("capture") == []
    assert stored(ports, payment.id) == payment


async def test_a_pending_payment_cannot_be_captured(ports: FakePorts) -> None:
    payment = await created(ports)
    with pytest.raises(InvalidStateTransition) as caught:
        await capture_payment(CapturePayment(payment.id), ports.deps)
    assert reason_of(caught.value) == "INVALID_STATE_TRANSITION"
    assert ports.gateway.calls == []
    assert stored(ports, payment.id) == payment


async def test_a_declined_capture_raises_and_keeps_the_authorization(ports: FakePorts) -> None:
    payment = await authorized(ports)
    ports.gateway.will("capture", declined("AUTHORIZATION_EXPIRED", "expired"))
    with pytest.raises(PaymentDeclined) as caught:
        await capture_payment(CapturePayment(payment.id), ports.deps)
    assert caught.value.code == "AUTHORIZATION_EXPIRED"
    assert caught.value.metadata["status"] == "AUTHORIZED"
    assert stored(ports, payment.id).status is PaymentStatus.AUTHORIZED
    result = await capture_payment(CapturePayment(payment.id), ports.deps)
    assert result.status is PaymentStatus.CAPTURED


async def test_an_unknown_capture_outcome_blocks_a_later_capture(ports: FakePorts) -> None:
    payment = await authorized(ports)
    ports.gateway.will("capture", outcome_unknown())
    with pytest.raises(GatewayOutcomeUnknown):
        await capture_payment(CapturePayment(payment.id), ports.deps)
    after = stored(ports, payment.id)
    capture = after.transactions[-1]
    assert (capture.type, capture.status) == (TransactionType.CAPTURE, TransactionStatus.UNKNOWN)
    assert after.status is PaymentStatus.AUTHORIZED
    with pytest.raises(OperationInProgress) as caught:
        await capture_payment(CapturePayment(payment.id), ports.deps)
    assert caught.value.metadata["transaction_status"] == "UNKNOWN"
    assert caught.value.retryable
    with pytest.raises(OperationInProgress):
        await cancel_payment(CancelPayment(payment.id), ports.deps)
    assert len(ports.gateway.calls_to("capture")) == 1
    assert ports.gateway.calls_to("void") == []


# --- cancel ----------------------------------------------------------------------------------
async def test_cancel_a_pending_payment_at_once(ports: FakePorts) -> None:
    payment = await created(ports)
    result = await cancel_payment(CancelPayment(payment.id, reason="duplicate"), ports.deps)
    assert (result.status, result.cancellation_reason) == (PaymentStatus.CANCELLED, "duplicate")
    assert ports.gateway.calls == []
    assert stored(ports, payment.id).status is PaymentStatus.CANCELLED
    assert ports.uow.event_types() == ["payment.cancelled"]


async def test_cancel_an_authorized_payment_voids_it(ports: FakePorts) -> None:
    payment = await authorized(ports)
    result = await cancel_payment(CancelPayment(payment.id), ports.deps)
    assert result.status is PaymentStatus.CANCELLED
    [call] = ports.gateway.calls_to("void")
    assert isinstance(call.request, GatewayOperationRequest)
    assert call.request.gateway_payment_id == "gw_authorize_1"
    assert ports.uow.event_types() == ["payment.authorized", "payment.cancelled"]


async def test_a_declined_void_raises_and_keeps_the_authorization(ports: FakePorts) -> None:
    payment = await authorized(ports)
    ports.gateway.will("void", declined("VOID_FAILED", "cannot void"))
    with pytest.raises(PaymentDeclined) as caught:
        await cancel_payment(CancelPayment(payment.id), ports.deps)
    assert caught.value.code == "VOID_FAILED"
    assert stored(ports, payment.id).status is PaymentStatus.AUTHORIZED


async def test_a_captured_payment_cannot_be_cancelled(ports: FakePorts) -> None:
    payment = await captured(ports)
    with pytest.raises(InvalidStateTransition):
        await cancel_payment(CancelPayment(payment.id), ports.deps)
    assert ports.gateway.calls_to("void") == []


# --- refunds ---------------------------------------------------------------------------------
async def test_full_refund(ports: FakePorts) -> None:
    payment = await captured(ports)
    refund, result = await refund_payment(
        RefundPayment(payment.id, reason="returned", requested_by="support"), ports.deps
    )
    assert result.status is PaymentStatus.REFUNDED
    assert (refund.status, refund.amount) == (RefundStatus.PROCESSED, Money(10_000, "EUR"))
    assert (refund.reason, refund.requested_by) == ("returned", "support")
    assert refund.gateway_refund_id == "gw_refund_3"
    assert ports.uow.committed_refund(refund.id) == refund
    assert await get_refund(refund.id, ports.deps) == refund
    assert stored(ports, payment.id).amounts.refunded.amount_minor == 10_000
    assert ports.uow.event_types()[-1] == "payment.refunded"


async def test_partial_refunds_and_their_list(ports: FakePorts) -> None:
    payment = await captured(ports)
    first, _ = await refund_payment(RefundPayment(payment.id, amount_minor=3000), ports.deps)
    second, result = await refund_payment(RefundPayment(payment.id, amount_minor=2000), ports.deps)
    assert (result.status, result.amounts.refunded.amount_minor) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        5000,
    )
    with pytest.raises(AmountExceedsRefundable) as caught:
        await refund_payment(RefundPayment(payment.id, amount_minor=5001), ports.deps)
    assert caught.value.metadata["refundable_amount_minor"] == "5000"
    page = await list_refunds(payment.id, 0, "", ports.deps)
    assert [r.id for r in page.items] == [first.id, second.id]
    assert page.next_page_token == ""
    assert len(ports.uow.db.refunds) == 2  # the refused one left no record
    assert len(ports.gateway.calls_to("refund")) == 2


async def test_a_declined_refund_is_recorded_as_failed(ports: FakePorts) -> None:
    payment = await captured(ports)
    ports.gateway.will("refund", declined("REFUND_DECLINED", "too old"))
    refund, result = await refund_payment(RefundPayment(payment.id), ports.deps)
    assert (refund.status, refund.failure_code) == (RefundStatus.FAILED, "REFUND_DECLINED")
    assert ports.uow.committed_refund(refund.id).status is RefundStatus.FAILED
    assert result.status is PaymentStatus.CAPTURED
    assert (result.amounts.refunded.amount_minor, result.refundable.amount_minor) == (0, 10_000)
    assert "payment.refunded" not in ports.uow.event_types()


async def test_a_refund_the_gateway_never_received_fails(ports: FakePorts) -> None:
    payment = await captured(ports)
    ports.gateway.will("refund", unavailable())
    with pytest.raises(GatewayUnavailable):
        await refund_payment(RefundPayment(payment.id, amount_minor=100), ports.deps)
    [refund] = ports.uow.db.refunds.values()
    assert (refund.status, refund.failure_code) == (RefundStatus.FAILED, "GATEWAY_UNAVAILABLE")
    assert stored(ports, payment.id).refundable.amount_minor == 10_000


async def test_a_refund_with_an_unknown_outcome_stays_pending_and_reserved(
    ports: FakePorts,
) -> None:
    payment = await captured(ports)
    ports.gateway.will("refund", outcome_unknown())
    with pytest.raises(GatewayOutcomeUnknown):
        await refund_payment(RefundPayment(payment.id, amount_minor=6000), ports.deps)
    [refund] = ports.uow.db.refunds.values()
    assert refund.status is RefundStatus.PENDING
    assert stored(ports, payment.id).refundable.amount_minor == 4000
    with pytest.raises(AmountExceedsRefundable):
        await refund_payment(RefundPayment(payment.id, amount_minor=4001), ports.deps)
    _, result = await refund_payment(RefundPayment(payment.id, amount_minor=4000), ports.deps)
    assert result.status is PaymentStatus.PARTIALLY_REFUNDED


async def test_refund_lookups(ports: FakePorts) -> None:
    with pytest.raises(RefundNotFound):
        await get_refund(UNKNOWN_ID, ports.deps)
    with pytest.raises(PaymentNotFound):
        await list_refunds(UNKNOWN_ID, 10, "", ports.deps)
    with pytest.raises(ValidationFailed) as caught:
        await get_refund("re_1", ports.deps)
    assert violated_fields(caught.value) == ["refund_id"]


async def test_an_authorized_payment_cannot_be_refunded(ports: FakePorts) -> None:
    payment = await authorized(ports)
    with pytest.raises(InvalidStateTransition):
        await refund_payment(RefundPayment(payment.id), ports.deps)
    assert ports.uow.db.refunds == {}
    assert ports.gateway.calls_to("refund") == []


# --- payment methods -------------------------------------------------------------------------
def defaults(ports: FakePorts, user: str = ALICE) -> list[str]:
    return [
        m.id
        for m in ports.uow.db.payment_methods.values()
        if m.user_id == user and m.is_default and not m.is_deleted
    ]


async def test_the_first_method_is_the_default(ports: FakePorts) -> None:
    first = await saved_method(ports)
    second = await saved_method(ports, token="pm_card_mastercard")
    assert first.is_default and not second.is_default
    assert defaults(ports) == [first.id]
    assert (first.card_brand, first.card_last4) == ("visa", "4242")
    assert ports.gateway.calls_to("describe_payment_method")[0].request == (
        "pm_card_visa",
        PaymentMethodType.CREDIT_CARD,
    )
    bobs = await saved_method(ports, user=BOB)
    assert bobs.is_default  # defaults are per user
    assert defaults(ports) == [first.id]


async def test_adding_with_set_default_moves_the_default(ports: FakePorts) -> None:
    first = await saved_method(ports)
    second = await saved_method(ports, token="pm_2", set_default=True)
    assert defaults(ports) == [second.id]
    assert not ports.uow.committed_method(first.id).is_default


async def test_set_default_moves_it(ports: FakePorts) -> None:
    first = await saved_method(ports)
    second = await saved_method(ports, token="pm_2")
    result = await set_default_payment_method(second.id, ports.deps)
    assert result.is_default
    assert defaults(ports) == [second.id]
    await set_default_payment_method(second.id, ports.deps)  # idempotent
    assert defaults(ports) == [second.id]
    await set_default_payment_method(first.id, ports.deps)
    assert defaults(ports) == [first.id]


async def test_deleting_the_default_promotes_the_newest_remaining(ports: FakePorts) -> None:
    oldest = await saved_method(ports, token="pm_1")
    middle = await saved_method(ports, token="pm_2")
    newest = await saved_method(ports, token="pm_3")
    assert oldest.created_at < middle.created_at < newest.created_at
    await delete_payment_method(oldest.id, ports.deps)
    assert defaults(ports) == [newest.id]
    deleted = ports.uow.committed_method(oldest.id)
    assert deleted.is_deleted and not deleted.is_default
    await delete_payment_method(middle.id, ports.deps)  # not the default: nothing moves
    assert defaults(ports) == [newest.id]
    await delete_payment_method(newest.id, ports.deps)
    assert defaults(ports) == []


async def test_a_deleted_method_is_gone(ports: FakePorts) -> None:
    method = await saved_method(ports)
    await delete_payment_method(method.id, ports.deps)
    with pytest.raises(PaymentMethodNotFound):
        await delete_payment_method(method.id, ports.deps)
    with pytest.raises(PaymentMethodNotFound):
        await set_default_payment_method(method.id, ports.deps)
    with pytest.raises(PaymentMethodNotFound):
        await created(ports, payment_method_token="", payment_method_id=method.id)
    page = await list_payment_methods(ALICE, 10, "", ports.deps)
    assert page.items == []


async def test_create_with_a_saved_method(ports: FakePorts) -> None:
    method = await saved_method(ports, token="pm_card_amex")
    payment = await created(
        ports, payment_method_token="", payment_method_type=None, payment_method_id=method.id
    )
    assert (payment.payment_method_id, payment.payment_method_token) == (method.id, "pm_card_amex")
    assert payment.payment_method_type is PaymentMethodType.CREDIT_CARD
    assert payment.gateway is method.gateway


async def test_another_users_saved_method_cannot_pay(ports: FakePorts) -> None:
    bobs = await saved_method(ports, user=BOB)
    with pytest.raises(PaymentMethodNotFound) as caught:
        await created(ports, payment_method_token="", payment_method_id=bobs.id)
    assert caught.value.reason == "PAYMENT_METHOD_NOT_FOUND"
    assert ports.uow.db.payments == {}


async def test_a_saved_method_must_match_the_requested_type_and_gateway(
    ports: FakePorts,
) -> None:
    method = await saved_method(ports)
    with pytest.raises(ValidationFailed) as caught:
        await created(
            ports,
            payment_method_token="",
            payment_method_id=method.id,
            payment_method_type=PaymentMethodType.PAYPAL,
        )
    assert violated_fields(caught.value) == ["payment_method_type"]
    with pytest.raises(PaymentMethodUnusable):
        await created(
            ports,
            payment_method_token="",
            payment_method_id=method.id,
            gateway=GatewayName.STRIPE,
        )
    assert ports.uow.db.payments == {}


async def test_list_payment_methods_page_by_page(ports: FakePorts) -> None:
    methods = [await saved_method(ports, token=f"pm_{i}") for i in range(5)]
    await saved_method(ports, user=BOB)
    await delete_payment_method(methods[2].id, ports.deps)
    live = [m.id for m in methods if m.id != methods[2].id]

    seen: list[str] = []
    token, pages = "", 0
    while True:
        page = await list_payment_methods(ALICE, 2, token, ports.deps)
        assert len(page.items) <= 2
        seen += [m.id for m in page.items]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == live  # each live method once, oldest first, no other user's
    assert pages == 2

    everything = await list_payment_methods(ALICE, 0, "", ports.deps)  # default page size
    assert [m.id for m in everything.items] == live
    assert everything.next_page_token == ""


async def test_list_payment_methods_rejects_a_bad_page_token(ports: FakePorts) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await list_payment_methods(ALICE, 2, "not-a-token", ports.deps)
    assert violated_fields(caught.value) == ["page_token"]
    with pytest.raises(ValidationFailed) as caught:
        await list_payment_methods("alice", 2, "", ports.deps)
    assert violated_fields(caught.value) == ["user_id"]


async def test_list_refunds_page_by_page(ports: FakePorts) -> None:
    payment = await captured(ports)
    refunds = [
        (await refund_payment(RefundPayment(payment.id, amount_minor=1000), ports.deps))[0]
        for _ in range(3)
    ]
    first = await list_refunds(payment.id, 2, "", ports.deps)
    assert [r.id for r in first.items] == [refunds[0].id, refunds[1].id]
    second = await list_refunds(payment.id, 2, first.next_page_token, ports.deps)
    assert [r.id for r in second.items] == [refunds[2].id]
    assert second.next_page_token == ""


async def test_paypal_methods_keep_the_email(ports: FakePorts) -> None:
    ports.directory.gateways[GatewayName.PAYPAL] = FakeGateway(GatewayName.PAYPAL)
    method = await saved_method(
        ports,
        token="BA-1",
        method_type=PaymentMethodType.PAYPAL,
        gateway=GatewayName.PAYPAL,
        paypal_email="me@example.com",
    )
    assert (method.gateway, method.paypal_email, method.card_last4) == (
        GatewayName.PAYPAL,
        "me@example.com",
        None,
    )
    assert ports.gateway.calls == []  # went to the PayPal gateway, not the simulator


async def test_add_payment_method_validates(ports: FakePorts) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await add_payment_method(
            AddPaymentMethod("x", None, "4242424242424242", paypal_email="nope"), ports.deps
        )
    assert violated_fields(caught.value) == [
        "user_id",
        "type",
        "payment_method_token",
        "paypal_email",
    ]
    assert ports.gateway.calls == []
