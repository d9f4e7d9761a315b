"""How PayPal's refusals and failures map onto the gateway port (a definite decline, or
GatewayUnavailable when nothing happened, or GatewayOutcomeUnknown when something may
have), and how lookup finds out afterwards what PayPal did - against the fake PayPal."""

from __future__ import annotations

import pytest

from domain.enums import PaymentMethodType, TransactionType
from domain.errors import GatewayOutcomeUnknown, GatewayUnavailable, InvalidPaymentMethodToken
from domain.gateway import AuthorizationRequest, ConfirmRequest, LookupRequest, OutcomeStatus
from domain.money import Money
from infra.gateways.paypal import PayPalGateway
from tests.fakes.paypal_scenarios import (
    approved_order,
    authorization,
    authorized_order,
    key,
    make_gateway,
    operation,
)
from tests.fakes.paypal_server import FakePayPal
from tests.support.polling import free_port


# --- declines and failures -------------------------------------------------------------------
async def test_a_declined_instrument_is_card_declined(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    order_id = await approved_order(gateway, paypal, Money(1000, "EUR"))
    paypal.decline(order_id)

    outcome = await gateway.confirm(ConfirmRequest(key(), order_id, Money(1000, "EUR")))

    assert (outcome.status, outcome.failure_code) == (OutcomeStatus.DECLINED, "CARD_DECLINED")
    assert outcome.reference == order_id
    assert "INSTRUMENT_DECLINED" in (outcome.failure_reason or "")
    assert "debug_id" in (outcome.failure_reason or "")


async def test_a_denied_authorization_carries_the_processor_reason(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    order_id = await approved_order(gateway, paypal, Money(1000, "EUR"))
    paypal.deny(order_id, response_code="5120")

    outcome = await gateway.confirm(ConfirmRequest(key(), order_id, Money(1000, "EUR")))

    assert (outcome.status, outcome.failure_code) == (
        OutcomeStatus.DECLINED,
        "INSUFFICIENT_FUNDS",
    )


async def test_confirming_before_the_buyer_approved_is_a_soft_decline(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    created = await gateway.authorize(authorization(Money(1000, "EUR")))

    outcome = await gateway.confirm(
        ConfirmRequest(key(), created.reference or "", Money(1000, "EUR"))
    )

    assert (outcome.status, outcome.failure_code) == (
        OutcomeStatus.DECLINED,
        "PAYER_ACTION_REQUIRED",
    )
    assert outcome.soft


@pytest.mark.parametrize("status", [503, 429])
async def test_refused_at_the_door_is_unavailable_and_nothing_happened(
    gateway: PayPalGateway, paypal: FakePayPal, status: int
) -> None:
    paypal.fail_next(status)

    with pytest.raises(GatewayUnavailable):
        await gateway.authorize(authorization(Money(1000, "EUR")))

    assert paypal.orders == {}


async def test_a_500_may_have_acted_so_the_outcome_is_unknown(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    request = authorization(Money(1000, "EUR"))
    paypal.fail_next(500, after_acting=True)

    with pytest.raises(GatewayOutcomeUnknown):
        await gateway.authorize(request)

    # PayPal did act: the retry under the same key replays the order created then.
    [order_id] = paypal.orders
    assert (await gateway.authorize(request)).reference == order_id


async def test_a_read_timeout_is_unknown(gateway: PayPalGateway, paypal: FakePayPal) -> None:
    order_id = await authorized_order(gateway, paypal, Money(1000, "EUR"))
    paypal.stall_next(path_contains="/capture", after_acting=True)

    with pytest.raises(GatewayOutcomeUnknown):
        await gateway.capture(operation(order_id, Money(1000, "EUR")))

    assert len(paypal.captures) == 1  # it happened; only the answer was lost


async def test_a_failed_read_before_the_post_is_unavailable(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    order_id = await authorized_order(gateway, paypal, Money(1000, "EUR"))
    paypal.fail_next(500, method="GET")

    with pytest.raises(GatewayUnavailable):
        await gateway.capture(operation(order_id, Money(1000, "EUR")))

    assert paypal.posts("/capture") == []


async def test_an_unreachable_paypal_is_unavailable() -> None:
    gateway = make_gateway(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(GatewayUnavailable):
            await gateway.authorize(authorization(Money(1000, "EUR")))
    finally:
        await gateway.aclose()


async def test_other_payment_methods_are_refused_without_a_call(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    request = authorization(Money(1000, "EUR"))
    card = AuthorizationRequest(
        request.idempotency_key,
        request.payment_id,
        request.amount,
        PaymentMethodType.CREDIT_CARD,
        "pm_card_visa",
    )

    outcome = await gateway.authorize(card)

    assert (outcome.status, outcome.failure_code) == (
        OutcomeStatus.DECLINED,
        "PAYMENT_METHOD_UNUSABLE",
    )
    assert paypal.requests == []


async def test_payment_method_details(gateway: PayPalGateway) -> None:
    details = await gateway.describe_payment_method("paypal", PaymentMethodType.PAYPAL)
    assert details.type is PaymentMethodType.PAYPAL
    with pytest.raises(InvalidPaymentMethodToken):
        await gateway.describe_payment_method("pm_card_visa", PaymentMethodType.CREDIT_CARD)


# --- lookup ----------------------------------------------------------------------------------
def lookup(
    idempotency_key: str, operation_type: TransactionType, order_id: str | None, amount: Money
) -> LookupRequest:
    return LookupRequest(idempotency_key, operation_type, order_id, amount)


async def test_lookup_finds_a_capture_whose_answer_was_lost(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    amount = Money(1000, "EUR")
    order_id = await authorized_order(gateway, paypal, amount)
    capture = operation(order_id, amount)
    paypal.stall_next(path_contains="/capture", after_acting=True)
    with pytest.raises(GatewayOutcomeUnknown):
        await gateway.capture(capture)
    posts_before = len(paypal.posts())

    found = await gateway.lookup(
        lookup(capture.idempotency_key, TransactionType.CAPTURE, order_id, amount)
    )

    [capture_id] = paypal.captures
    assert found is not None
    assert (found.status, found.reference) == (OutcomeStatus.SUCCEEDED, capture_id)
    assert len(paypal.posts()) == posts_before  # lookup only reads


async def test_lookup_of_a_capture_paypal_never_saw_is_none(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    amount = Money(1000, "EUR")
    order_id = await authorized_order(gateway, paypal, amount)
    capture = operation(order_id, amount)
    paypal.stall_next(path_contains="/capture", after_acting=False)
    with pytest.raises(GatewayOutcomeUnknown):
        await gateway.capture(capture)

    found = await gateway.lookup(
        lookup(capture.idempotency_key, TransactionType.CAPTURE, order_id, amount)
    )

    assert found is None and paypal.captures == {}


async def test_lookup_finds_a_saved_wallet_authorization_whose_answer_was_lost(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    amount = Money(1000, "EUR")
    request = authorization(amount, token=paypal.save_wallet())
    paypal.stall_next(path_contains="/authorize", after_acting=True)
    with pytest.raises(GatewayOutcomeUnknown):
        await gateway.authorize(request)

    # The order id never arrived: lookup has only the key and the amount.
    found = await gateway.lookup(
        lookup(request.idempotency_key, TransactionType.AUTHORIZATION, None, amount)
    )

    [order_id] = paypal.orders
    assert found is not None
    assert (found.status, found.reference) == (OutcomeStatus.SUCCEEDED, order_id)
    assert len(paypal.authorizations) == 1


async def test_lookup_of_a_saved_wallet_authorization_never_received_does_not_make_it(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    amount = Money(1000, "EUR")
    request = authorization(amount, token=paypal.save_wallet())
    paypal.stall_next(path_contains="/authorize", after_acting=False)
    with pytest.raises(GatewayOutcomeUnknown):
        await gateway.authorize(request)
    auth_lookup = lookup(request.idempotency_key, TransactionType.AUTHORIZATION, None, amount)

    assert await gateway.lookup(auth_lookup) is None
    assert await gateway.lookup(auth_lookup) is None  # and again, the same
    assert paypal.authorizations == {}
    assert len(paypal.orders) == 1  # the order it made then, which nobody can approve


async def test_lookup_finds_a_declined_saved_wallet_again(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    amount = Money(1000, "EUR")
    request = authorization(amount, token=paypal.save_wallet(issue="INSTRUMENT_DECLINED"))
    declined = await gateway.authorize(request)

    found = await gateway.lookup(
        lookup(request.idempotency_key, TransactionType.AUTHORIZATION, None, amount)
    )

    assert found is not None
    assert (found.status, found.reference, found.failure_code) == (
        declined.status,
        declined.reference,
        "CARD_DECLINED",
    )


async def test_lookup_of_a_checkout_whose_answer_was_lost_is_none(
    gateway: PayPalGateway, paypal: FakePayPal
) -> None:
    amount = Money(1000, "EUR")
    request = authorization(amount)
    paypal.stall_next(path_contains="/v2/checkout/orders", after_acting=True)
    with pytest.raises(GatewayOutcomeUnknown):
        await gateway.authorize(request)

    found = await gateway.lookup(
        lookup(request.idempotency_key, TransactionType.AUTHORIZATION, None, amount)
    )

    # The buyer never got the approval link: nothing can be authorized; nothing moved.
    assert found is None and paypal.authorizations == {}


@pytest.mark.parametrize("acted", [True, False])
async def test_lookup_of_a_confirm_whose_answer_was_lost(
    gateway: PayPalGateway, paypal: FakePayPal, acted: bool
) -> None:
    amount = Money(1000, "EUR")
    order_id = await approved_order(gateway, paypal, amount)
    confirm = ConfirmRequest(key(), order_id, amount)
    paypal.stall_next(path_contains=f"/{order_id}/authorize", after_acting=acted)
    with pytest.raises(GatewayOutcomeUnknown):
        await gateway.confirm(confirm)

    found = await gateway.lookup(
        lookup(confirm.idempotency_key, TransactionType.AUTHORIZATION, order_id, amount)
    )

    if acted:
        assert found is not None
        assert (found.status, found.reference) == (OutcomeStatus.SUCCEEDED, order_id)
    else:
        assert found is None
        assert paypal.orders[order_id].authorization is None  # lookup did not authorize it
    assert len(paypal.authorizations) == int(acted)


async def test_lookup_of_voids_and_refunds(gateway: PayPalGateway, paypal: FakePayPal) -> None:
    amount = Money(1000, "EUR")
    voided_order = await authorized_order(gateway, paypal, amount)
    void = operation(voided_order, amount)
    void_lookup = lookup(void.idempotency_key, TransactionType.VOID, voided_order, amount)
    assert await gateway.lookup(void_lookup) is None
    await gateway.void(void)
    found_void = await gateway.lookup(void_lookup)
    assert found_void is not None and found_void.status is OutcomeStatus.SUCCEEDED

    order_id = await authorized_order(gateway, paypal, amount)
    captured = await gateway.capture(operation(order_id, amount))
    refunds = [operation(order_id, Money(300, "EUR"), captured.reference) for _ in range(2)]
    answers = [await gateway.refund(refund) for refund in refunds]
    for refund, answer in zip(refunds, answers, strict=True):
        found = await gateway.lookup(
            lookup(refund.idempotency_key, TransactionType.REFUND, order_id, refund.amount)
        )
        assert found == answer
    unseen = lookup(key(), TransactionType.REFUND, order_id, Money(300, "EUR"))
    assert await gateway.lookup(unseen) is None
    assert await gateway.lookup(lookup(key(), TransactionType.VOID, "NOSUCHORDER", amount)) is None
