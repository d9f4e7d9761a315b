"""The gateway contract: the same lifecycle, declines, 3-D Secure, voids, lookups and
repeated idempotency keys, for every adapter (see conftest.ADAPTERS). An adapter is done when
it passes this suite."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from domain.enums import GatewayName, NextActionType, ScaExemption, TransactionType
from domain.gateway import (
    AttachRequest,
    AuthorizationRequest,
    ConfirmRequest,
    GatewayOperationRequest,
    GatewayOutcome,
    LookupRequest,
    OutcomeStatus,
)
from domain.money import Money
from tests.gateway_contract.harness import GatewayHarness, TokenKind

SUCCEEDED, DECLINED = OutcomeStatus.SUCCEEDED, OutcomeStatus.DECLINED


def new_key() -> str:
    return f"contract-{uuid.uuid4().hex}"


async def authorize(
    harness: GatewayHarness, kind: TokenKind, amount_minor: int = 1000
) -> tuple[AuthorizationRequest, GatewayOutcome]:
    request = AuthorizationRequest(
        idempotency_key=new_key(),
        payment_id=f"pay-{uuid.uuid4().hex}",
        amount=Money(amount_minor, harness.currency),
        payment_method_type=harness.method_type,
        payment_method_token=await harness.token(kind),
    )
    return request, await harness.gateway.authorize(request)


def operation(
    harness: GatewayHarness, reference: str | None, amount_minor: int
) -> GatewayOperationRequest:
    assert reference, "the authorization has no gateway reference"
    return GatewayOperationRequest(new_key(), reference, Money(amount_minor, harness.currency))


async def lookup(
    harness: GatewayHarness,
    key: str,
    kind: TransactionType,
    reference: str | None,
    amount_minor: int,
) -> GatewayOutcome | None:
    amount = Money(amount_minor, harness.currency)
    return await harness.gateway.lookup(LookupRequest(key, kind, reference, amount))


def assert_same(found: GatewayOutcome | None, recorded: GatewayOutcome) -> None:
    assert found is not None, f"the gateway lost {recorded}"
    assert (found.status, found.reference, found.failure_code) == (
        recorded.status,
        recorded.reference,
        recorded.failure_code,
    )


async def test_partial_capture_and_refunds_then_each_found_by_its_key(
    harness: GatewayHarness,
) -> None:
    gateway = harness.gateway
    auth_request, authorized = await authorize(harness, "success", 1000)
    assert authorized.status is SUCCEEDED and authorized.reference
    payment = authorized.reference

    capture = operation(harness, payment, 600)
    captured = await gateway.capture(capture)
    assert captured.status is SUCCEEDED and captured.reference

    first, second = operation(harness, payment, 200), operation(harness, payment, 300)
    refunded = [await gateway.refund(first), await gateway.refund(second)]
    assert [r.status for r in refunded] == [SUCCEEDED, SUCCEEDED]
    assert refunded[0].reference and refunded[0].reference != refunded[1].reference

    beyond = operation(harness, payment, 101)  # 100 of the 600 captured are left
    refused = await gateway.refund(beyond)
    assert (refused.status, refused.failure_code) == (DECLINED, "AMOUNT_TOO_LARGE")
    rest = operation(harness, payment, 100)
    assert (await gateway.refund(rest)).status is SUCCEEDED

    # The reconciler's questions, by idempotency key. The authorization's PaymentIntent id is
    # what a lost answer would have told us: it is not given.
    key = auth_request.idempotency_key
    assert_same(await lookup(harness, key, TransactionType.AUTHORIZATION, None, 1000), authorized)
    found = await lookup(harness, capture.idempotency_key, TransactionType.CAPTURE, payment, 600)
    assert_same(found, captured)
    for request, outcome in zip((first, second), refunded, strict=True):
        amount = request.amount.amount_minor
        found = await lookup(
            harness, request.idempotency_key, TransactionType.REFUND, payment, amount
        )
        assert_same(found, outcome)
    found = await lookup(harness, beyond.idempotency_key, TransactionType.REFUND, payment, 101)
    assert found is None or found.status is DECLINED  # refused: no money moved either way


async def test_lookup_of_an_operation_never_sent_is_none(harness: GatewayHarness) -> None:
    unknown = new_key()
    assert await lookup(harness, unknown, TransactionType.AUTHORIZATION, None, 1000) is None
    _, authorized = await authorize(harness, "success", 1000)
    payment = authorized.reference
    assert await lookup(harness, unknown, TransactionType.CAPTURE, payment, 1000) is None
    assert (await harness.gateway.capture(operation(harness, payment, 1000))).status is SUCCEEDED
    assert await lookup(harness, unknown, TransactionType.REFUND, payment, 500) is None


@pytest.mark.parametrize(
    ("kind", "code"),
    [("declined", "CARD_DECLINED"), ("insufficient_funds", "INSUFFICIENT_FUNDS")],
)
async def test_declines_carry_our_code_and_are_found_again(
    harness: GatewayHarness, kind: TokenKind, code: str
) -> None:
    request, declined = await authorize(harness, kind)
    assert (declined.status, declined.failure_code, declined.soft) == (DECLINED, code, False)
    assert declined.failure_reason
    key = request.idempotency_key
    assert_same(await lookup(harness, key, TransactionType.AUTHORIZATION, None, 1000), declined)


async def test_requires_action_then_confirm_after_the_customer_passes(
    harness: GatewayHarness,
) -> None:
    request, challenged = await authorize(harness, "requires_action", 1500)
    assert challenged.status is OutcomeStatus.REQUIRES_ACTION and challenged.reference
    assert challenged.next_action is not None
    assert challenged.next_action.type is NextActionType.REDIRECT_TO_URL
    assert challenged.next_action.url.startswith("https://")

    await harness.complete_action(challenged)
    confirm = ConfirmRequest(new_key(), challenged.reference, request.amount)
    confirmed = await harness.gateway.confirm(confirm)
    assert (confirmed.status, confirmed.reference) == (SUCCEEDED, challenged.reference)
    captured = await harness.gateway.capture(operation(harness, challenged.reference, 1500))
    assert captured.status is SUCCEEDED


async def test_void_releases_the_authorization(harness: GatewayHarness) -> None:
    _, authorized = await authorize(harness, "success", 800)
    void = operation(harness, authorized.reference, 800)
    voided = await harness.gateway.void(void)
    assert voided.status is SUCCEEDED
    found = await lookup(
        harness, void.idempotency_key, TransactionType.VOID, authorized.reference, 800
    )
    assert_same(found, voided)
    late = await harness.gateway.capture(operation(harness, authorized.reference, 800))
    assert (late.status, late.failure_code) == (DECLINED, "INVALID_GATEWAY_STATE")


async def test_a_key_sent_twice_does_not_act_twice(harness: GatewayHarness) -> None:
    gateway = harness.gateway
    request, authorized = await authorize(harness, "success", 1000)
    again = await gateway.authorize(request)
    capture = operation(harness, authorized.reference, 1000)
    captured, captured_again = await gateway.capture(capture), await gateway.capture(capture)
    refund = operation(harness, authorized.reference, 400)
    refunded, refunded_again = await gateway.refund(refund), await gateway.refund(refund)
    assert [captured.status, refunded.status] == [SUCCEEDED, SUCCEEDED]

    if harness.replays_repeated_keys:
        assert_same(again, authorized)
        assert_same(captured_again, captured)
        assert_same(refunded_again, refunded)
        # One refund of 400 happened, not two: 600 are left, and no more.
        rest = await gateway.refund(operation(harness, authorized.reference, 600))
        assert rest.status is SUCCEEDED
        return
    # The gateway ignores keys (localstripe): what the adapter guarantees is that every send
    # carries the operation's key, which is what makes the real gateway replay the first
    # answer; and a payment is captured once whatever the key, the repeat being refused.
    sent = harness.idempotency_keys_sent()
    for key in (request.idempotency_key, capture.idempotency_key, refund.idempotency_key):
        assert sent.count(key) == 2, key
    assert (captured_again.status, captured_again.failure_code) == (
        DECLINED,
        "INVALID_GATEWAY_STATE",
    )


async def test_describes_the_payment_method(harness: GatewayHarness) -> None:
    details = await harness.gateway.describe_payment_method(
        await harness.token("success"), harness.method_type
    )
    assert details.type is harness.method_type
    if harness.method_type.is_card:
        assert details.card_brand
        assert details.card_last4 is not None and len(details.card_last4) == 4
        assert details.card_expiry_month is not None and 1 <= details.card_expiry_month <= 12
        assert details.card_expiry_year is not None and details.card_expiry_year >= 2024


async def test_saved_methods_stay_with_one_customer(harness: GatewayHarness) -> None:
    owner = str(uuid.uuid4())
    first = await harness.gateway.attach_to_customer(
        AttachRequest(f"payments-pm-{uuid.uuid4()}", await harness.token("success"),
                      harness.method_type, owner)
    )  # fmt: skip
    if first is None:
        return  # a gateway without customers: the token is reusable by itself
    second = await harness.gateway.attach_to_customer(
        AttachRequest(f"payments-pm-{uuid.uuid4()}", await harness.token("success"),
                      harness.method_type, owner, customer_reference=first)
    )  # fmt: skip
    assert second == first


# --- SCA exemptions: sent in the gateway's terms, or refused ---------------------------------
# Per adapter, what each exemption it sends looks like at the gateway; every other exemption
# it refuses (infra/gateways/sca_exemptions.py says why).
STRIPE_OFF_SESSION = {
    "off_session": True,
    "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
}
PAYPAL_MERCHANT_INITIATED = {"payment_initiator": "MERCHANT", "usage": "SUBSEQUENT"}
EXEMPTIONS_SENT: dict[GatewayName, dict[ScaExemption, dict[str, Any]]] = {
    GatewayName.SIMULATOR: {x: {"sca_exemption": x.value} for x in ScaExemption},
    GatewayName.STRIPE: {ScaExemption.MERCHANT_INITIATED: STRIPE_OFF_SESSION},
    GatewayName.PAYPAL: {ScaExemption.MERCHANT_INITIATED: PAYPAL_MERCHANT_INITIATED},
}


async def authorize_saved(
    harness: GatewayHarness, exemption: ScaExemption | None
) -> tuple[AuthorizationRequest, GatewayOutcome]:
    """A saved method charged again (what a merchant-initiated payment needs), asking for
    `exemption`."""
    token = await harness.token("success")
    customer = await harness.gateway.attach_to_customer(
        AttachRequest(f"payments-pm-{uuid.uuid4()}", token, harness.method_type,
                      str(uuid.uuid4()))
    )  # fmt: skip
    request = AuthorizationRequest(
        idempotency_key=new_key(),
        payment_id=f"pay-{uuid.uuid4().hex}",
        amount=Money(1000, harness.currency),
        payment_method_type=harness.method_type,
        payment_method_token=token,
        customer_reference=customer,
        sca_exemption=exemption,
    )
    return request, await harness.gateway.authorize(request)


def test_declares_the_exemptions_it_can_send(harness: GatewayHarness) -> None:
    gateway = harness.gateway
    assert gateway.capabilities.sca_exemptions == frozenset(EXEMPTIONS_SENT[gateway.name])


@pytest.mark.parametrize("exemption", list(ScaExemption), ids=lambda x: x.value)
async def test_an_exemption_is_sent_in_its_terms_or_refused(
    harness: GatewayHarness, exemption: ScaExemption
) -> None:
    request, outcome = await authorize_saved(harness, exemption)
    expected = EXEMPTIONS_SENT[harness.gateway.name].get(exemption)
    if expected is None:
        assert (outcome.status, outcome.failure_code) == (DECLINED, "SCA_EXEMPTION_UNSUPPORTED")
        assert harness.gateway.name.value in (outcome.failure_reason or "")
        assert outcome.sca_exemption_sent is None
        # Refused before anything went out: no authorization under this key.
        assert request.idempotency_key not in harness.idempotency_keys_sent()
        assert await lookup(harness, request.idempotency_key, TransactionType.AUTHORIZATION,
                            None, 1000) is None  # fmt: skip
        return
    assert outcome.status is SUCCEEDED, outcome
    assert outcome.sca_exemption_sent
    assert await harness.exemption_received(outcome) == expected


async def test_without_an_exemption_none_is_sent(harness: GatewayHarness) -> None:
    _, outcome = await authorize_saved(harness, None)
    assert outcome.status is SUCCEEDED
    assert outcome.sca_exemption_sent is None
    assert await harness.exemption_received(outcome) is None
