"""The Stripe adapter's own promises, against localstripe: what its failures raise (certainly
not done: GatewayUnavailable; maybe done: GatewayOutcomeUnknown), amounts in Stripe's units,
decline codes, failed 3-D Secure. The shared lifecycle is in tests/gateway_contract."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import stripe

from domain.enums import NextActionType, PaymentMethodType, ScaExemption, TransactionType
from domain.errors import GatewayOutcomeUnknown, GatewayUnavailable, InvalidPaymentMethodToken
from domain.gateway import (
    AttachRequest,
    AuthorizationRequest,
    ConfirmRequest,
    GatewayOperationRequest,
    LookupRequest,
    OutcomeStatus,
)
from domain.money import Money
from infra.gateways.stripe import StripeGateway
from infra.gateways.stripe_amounts import stripe_amount
from infra.gateways.stripe_errors import decline
from tests.support.localstripe import (
    API_KEY,
    CARDS,
    LocalStripe,
    create_card_payment_method,
    pass_three_d_secure,
)
from tests.support.polling import free_port

NEXT_ACTION_URL = "https://shop.example/stripe/next-action"
Call = Callable[[], Awaitable[object]]


def gateway_for(base_url: str, api_key: str = API_KEY, **options: Any) -> StripeGateway:
    options = {"search_api": False, "scan_limit": 10**6} | options
    return StripeGateway(api_key, base_url=base_url, next_action_url=NEXT_ACTION_URL, **options)


@pytest.fixture
async def gateway(localstripe_url: str) -> AsyncIterator[StripeGateway]:
    adapter = gateway_for(localstripe_url)
    yield adapter
    await adapter.aclose()


def key() -> str:
    return f"stripe-test-{uuid.uuid4().hex}"


def authorization(token: str, amount: Money, **fields: Any) -> AuthorizationRequest:
    return AuthorizationRequest(
        idempotency_key=key(),
        payment_id=f"pay-{uuid.uuid4().hex}",
        amount=amount,
        payment_method_type=fields.pop("payment_method_type", PaymentMethodType.CREDIT_CARD),
        payment_method_token=token,
        **fields,
    )


async def card(base_url: str, kind: str = "success") -> str:
    return await create_card_payment_method(base_url, CARDS[kind])


async def recorded(base_url: str, path: str) -> dict[str, Any]:
    """The object as localstripe holds it, read without the adapter."""
    async with httpx.AsyncClient(base_url=base_url, auth=(API_KEY, "")) as client:
        response = await client.get(path)
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


# --- unreachable, refused, unanswered --------------------------------------------------------
async def test_a_rejected_api_key_is_unavailable_and_never_repeated(localstripe_url: str) -> None:
    secret = "wrong-key-0123456789"  # localstripe takes any sk_... key: this is not one
    adapter = gateway_for(localstripe_url, api_key=secret)
    token = await card(localstripe_url)
    try:
        calls: list[Call] = [
            lambda: adapter.authorize(authorization(token, Money(1000, "EUR"))),
            lambda: adapter.describe_payment_method(token, PaymentMethodType.CREDIT_CARD),
            lambda: adapter.lookup(
                LookupRequest(key(), TransactionType.AUTHORIZATION, None, Money(1000, "EUR"))
            ),
        ]
        for call in calls:
            with pytest.raises(GatewayUnavailable) as raised:
                await call()
            assert "API key" in raised.value.message
            assert secret not in f"{raised.value} {raised.value.metadata} {raised.value!r}"
        assert secret not in repr(adapter)
    finally:
        await adapter.aclose()


async def test_stripe_down_is_unavailable() -> None:
    server = LocalStripe()
    await server.start()
    adapter = gateway_for(server.url)
    try:
        token = await card(server.url)
        authorized = await adapter.authorize(authorization(token, Money(1000, "EUR")))
        assert authorized.status is OutcomeStatus.SUCCEEDED and authorized.reference
        server.stop()

        request = authorization(token, Money(1000, "EUR"))
        with pytest.raises(GatewayUnavailable):
            await adapter.authorize(request)
        capture = GatewayOperationRequest(key(), authorized.reference, Money(1000, "EUR"))
        with pytest.raises(GatewayUnavailable):
            await adapter.capture(capture)
        with pytest.raises(GatewayUnavailable):
            await adapter.lookup(
                LookupRequest(key(), TransactionType.CAPTURE, authorized.reference, capture.amount)
            )
    finally:
        await adapter.aclose()
        server.close()


async def test_no_answer_after_sending_is_unknown_for_money_and_unavailable_for_reads() -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # takes the request, never answers, until the client hangs up
        writer.close()

    silent = await asyncio.start_server(swallow, "127.0.0.1", free_port())
    port = silent.sockets[0].getsockname()[1]
    # Reads time out fast; the loopback connect gets room, so that a loaded machine does not
    # turn "sent, no answer" into "could not connect".
    adapter = gateway_for(
        f"http://127.0.0.1:{port}",
        http_client=stripe.HTTPXClient(timeout=httpx.Timeout(0.3, connect=10.0)),
    )
    amount = Money(1000, "EUR")
    operation = GatewayOperationRequest(key(), "pi_somewhere", amount)
    try:
        money_moving: list[Call] = [
            lambda: adapter.authorize(authorization("pm_card_visa", amount)),
            lambda: adapter.capture(operation),
            lambda: adapter.void(operation),
            lambda: adapter.refund(operation),
        ]
        for call in money_moving:
            with pytest.raises(GatewayOutcomeUnknown):
                await call()
        reads: list[Call] = [
            lambda: adapter.describe_payment_method("pm_card_visa", PaymentMethodType.CREDIT_CARD),
            lambda: adapter.lookup(
                LookupRequest(key(), TransactionType.AUTHORIZATION, None, amount)
            ),
        ]
        for call in reads:
            with pytest.raises(GatewayUnavailable):
                await call()
    finally:
        await adapter.aclose()
        silent.close()
        await silent.wait_closed()


async def test_a_server_error_is_unknown_for_money_and_unavailable_for_reads(
    gateway: StripeGateway, localstripe_url: str
) -> None:
    # localstripe answers 500 to a refund of, or a refund listing for, a PaymentIntent that
    # has no charge yet (one waiting for 3-D Secure): a real server error, indeterminate.
    amount = Money(1000, "EUR")
    challenged = await gateway.authorize(
        authorization(await card(localstripe_url, "requires_action"), amount)
    )
    assert challenged.status is OutcomeStatus.REQUIRES_ACTION and challenged.reference
    refund = GatewayOperationRequest(key(), challenged.reference, amount)
    with pytest.raises(GatewayOutcomeUnknown) as raised:
        await gateway.refund(refund)
    assert raised.value.metadata["http_status"] == "500"
    with pytest.raises(GatewayUnavailable):
        await gateway.lookup(
            LookupRequest(
                refund.idempotency_key, TransactionType.REFUND, refund.gateway_payment_id, amount
            )
        )


# --- amounts ----------------------------------------------------------------------------------
# ISO 4217 minor units (what the contract carries) beside the integer Stripe is sent.
@pytest.mark.parametrize(
    ("money", "expected"),
    [
        (Money(1099, "EUR"), 1099),
        (Money(500, "JPY"), 500),  # zero-decimal in ISO and at Stripe
        (Money(5, "ISK"), 500),  # ISO: no decimals; Stripe: hundredths, whole krónur only
        (Money(1010, "KWD"), 1010),  # three decimals, the last one zero
        (Money(1005, "KWD"), None),  # Stripe refuses a last digit other than zero
        (Money(150000, "HUF"), 150000),  # 1500.00 HUF: two decimals in ISO and for charges
        (Money(12345, "TWD"), 12345),  # 123.45 TWD: likewise
        (Money(5000, "UGX"), 5000),  # zero-decimal in ISO and at Stripe
        (Money(1230, "IQD"), 123),  # ISO: 3 decimals (1.230 IQD); Stripe: two
        (Money(1234, "IQD"), None),  # 1.234 IQD has no two-decimal form
        (Money(100, "XTS"), None),  # ISO's test code is no currency
    ],
)
def test_amounts_in_stripe_units(money: Money, expected: int | None) -> None:
    assert stripe_amount(money) == expected


async def test_yen_amounts_reach_stripe_unscaled(
    gateway: StripeGateway, localstripe_url: str
) -> None:
    request = authorization(await card(localstripe_url), Money(500, "JPY"))
    authorized = await gateway.authorize(request)
    assert authorized.status is OutcomeStatus.SUCCEEDED and authorized.reference
    intent = await recorded(localstripe_url, f"/v1/payment_intents/{authorized.reference}")
    assert (intent["amount"], intent["currency"]) == (500, "jpy")

    capture = GatewayOperationRequest(key(), authorized.reference, Money(300, "JPY"))
    assert (await gateway.capture(capture)).status is OutcomeStatus.SUCCEEDED
    refund = GatewayOperationRequest(key(), authorized.reference, Money(120, "JPY"))
    refunded = await gateway.refund(refund)
    assert refunded.status is OutcomeStatus.SUCCEEDED
    assert (await recorded(localstripe_url, f"/v1/refunds/{refunded.reference}"))["amount"] == 120
    beyond = GatewayOperationRequest(key(), authorized.reference, Money(181, "JPY"))
    assert (await gateway.refund(beyond)).failure_code == "AMOUNT_TOO_LARGE"  # 180 are left


@pytest.mark.parametrize(
    ("money", "sent"),
    [
        (Money(150000, "HUF"), 150000),  # 1500.00 HUF
        (Money(5, "ISK"), 500),  # 5 ISK
        (Money(1000, "JPY"), 1000),  # 1000 JPY
        (Money(5120, "KWD"), 5120),  # 5.120 KWD
        (Money(1230, "IQD"), 123),  # 1.230 IQD
    ],
)
async def test_the_request_body_carries_stripes_amount(
    gateway: StripeGateway, localstripe_url: str, money: Money, sent: int
) -> None:
    authorized = await gateway.authorize(authorization(await card(localstripe_url), money))
    assert authorized.status is OutcomeStatus.SUCCEEDED and authorized.reference
    intent = await recorded(localstripe_url, f"/v1/payment_intents/{authorized.reference}")
    assert (intent["amount"], intent["currency"]) == (sent, money.currency.lower())


async def test_an_amount_stripe_cannot_take_is_declined_without_sending(
    gateway: StripeGateway, localstripe_url: str
) -> None:
    request = authorization(await card(localstripe_url), Money(1005, "KWD"))
    declined = await gateway.authorize(request)
    assert (declined.status, declined.failure_code) == (
        OutcomeStatus.DECLINED,
        "AMOUNT_NOT_SUPPORTED",
    )
    lookup = LookupRequest(
        request.idempotency_key, TransactionType.AUTHORIZATION, None, request.amount
    )
    assert await gateway.lookup(lookup) is None

    krona = await gateway.authorize(authorization(await card(localstripe_url), Money(5, "ISK")))
    assert krona.reference
    assert (await recorded(localstripe_url, f"/v1/payment_intents/{krona.reference}"))[
        "amount"
    ] == 500


# --- what Stripe records, declines, 3-D Secure -------------------------------------------------
async def test_the_payment_intent_carries_our_keys_and_waits_for_capture(
    gateway: StripeGateway, localstripe_url: str
) -> None:
    request = authorization(
        await card(localstripe_url),
        Money(1000, "EUR"),
        description="order 42",
        metadata={"order_id": "42"},
    )
    authorized = await gateway.authorize(request)
    intent = await recorded(localstripe_url, f"/v1/payment_intents/{authorized.reference}")
    assert intent["status"] == "requires_capture"
    assert intent["capture_method"] == "manual"
    assert intent["metadata"] == {
        "order_id": "42",
        "payment_id": request.payment_id,
        "idempotency_key": request.idempotency_key,
    }


@pytest.mark.parametrize(
    ("kind", "code", "soft"),
    [
        ("expired_card", "EXPIRED_CARD", False),
        ("incorrect_cvc", "INCORRECT_CVC", False),
        ("processing_error", "PROCESSING_ERROR", True),
    ],
)
async def test_decline_codes(
    gateway: StripeGateway, localstripe_url: str, kind: str, code: str, soft: bool
) -> None:
    declined = await gateway.authorize(
        authorization(await card(localstripe_url, kind), Money(1000, "EUR"))
    )
    assert (declined.status, declined.failure_code, declined.soft) == (
        OutcomeStatus.DECLINED,
        code,
        soft,
    )
    assert declined.reference and declined.reference.startswith("pi_")


@pytest.mark.parametrize(
    ("code", "decline_code", "ours", "soft"),
    [
        ("card_declined", "try_again_later", "TRY_AGAIN_LATER", True),
        ("card_declined", "stolen_card", "CARD_DECLINED", False),  # not told to the customer
        ("authentication_required", None, "AUTHENTICATION_REQUIRED", False),
        ("card_declined", "something_new", "CARD_DECLINED", False),
    ],
)
def test_decline_codes_localstripe_cannot_produce(
    code: str, decline_code: str | None, ours: str, soft: bool
) -> None:
    outcome = decline(code, decline_code, "Declined.", "pi_x")
    assert (outcome.status, outcome.failure_code, outcome.soft) == (
        OutcomeStatus.DECLINED,
        ours,
        soft,
    )


async def test_an_unknown_token_is_declined_and_not_described(gateway: StripeGateway) -> None:
    token = f"pm_unknown_{uuid.uuid4().hex[:12]}"
    declined = await gateway.authorize(authorization(token, Money(1000, "EUR")))
    assert declined.failure_code == "PAYMENT_METHOD_TOKEN_INVALID"
    with pytest.raises(InvalidPaymentMethodToken):
        await gateway.describe_payment_method(token, PaymentMethodType.CREDIT_CARD)


async def test_other_methods_than_cards_are_declined_without_sending(
    gateway: StripeGateway,
) -> None:
    request = authorization(
        "whatever", Money(1000, "EUR"), payment_method_type=PaymentMethodType.PAYPAL
    )
    declined = await gateway.authorize(request)
    assert declined.failure_code == "PAYMENT_METHOD_NOT_SUPPORTED"


async def test_three_d_secure_next_action_and_failed_authentication(
    gateway: StripeGateway, localstripe_url: str
) -> None:
    request = authorization(await card(localstripe_url, "requires_action"), Money(2000, "EUR"))
    challenged = await gateway.authorize(request)
    assert challenged.next_action is not None and challenged.reference
    assert challenged.next_action.type is NextActionType.REDIRECT_TO_URL
    url = challenged.next_action.url
    assert url.startswith(NEXT_ACTION_URL + "?")
    query = parse_qs(urlparse(url).query)
    assert query["payment_intent"] == [challenged.reference]
    assert query["payment_intent_client_secret"][0].startswith(challenged.reference + "_secret_")

    confirm = ConfirmRequest(key(), challenged.reference, request.amount)
    early = await gateway.confirm(confirm)  # the customer has not authenticated yet
    assert early.status is OutcomeStatus.REQUIRES_ACTION

    await pass_three_d_secure(localstripe_url, url, success=False)
    failed = await gateway.confirm(ConfirmRequest(key(), challenged.reference, request.amount))
    assert (failed.status, failed.failure_code, failed.liability_shift) == (
        OutcomeStatus.DECLINED,
        "AUTHENTICATION_FAILED",
        False,
    )


# --- SCA exemptions ----------------------------------------------------------------------------
async def saved_card(gateway: StripeGateway, base_url: str, kind: str) -> tuple[str, str]:
    """A card saved to a new Customer, as a merchant-initiated payment charges it."""
    token = await card(base_url, kind)
    customer = await gateway.attach_to_customer(
        AttachRequest(key(), token, PaymentMethodType.CREDIT_CARD, str(uuid.uuid4()))
    )
    assert customer is not None
    return token, customer


async def test_off_session_a_card_that_needs_3ds_is_declined_not_left_waiting(
    gateway: StripeGateway, localstripe_url: str
) -> None:
    token, customer = await saved_card(gateway, localstripe_url, "requires_action")
    outcome = await gateway.authorize(
        authorization(token, Money(2000, "EUR"), customer_reference=customer,
                      sca_exemption=ScaExemption.MERCHANT_INITIATED)
    )  # fmt: skip
    assert (outcome.status, outcome.failure_code, outcome.next_action) == (
        OutcomeStatus.DECLINED,
        "AUTHENTICATION_REQUIRED",
        None,
    )
    # Declined, yet the exemption was sent: the payment says so.
    assert outcome.sca_exemption_sent is not None
    assert outcome.sca_exemption_sent.startswith("off_session=true")
    assert outcome.reference
    intent = await recorded(localstripe_url, f"/v1/payment_intents/{outcome.reference}")
    assert intent["off_session"] is True
    assert intent["customer"] == customer


@pytest.mark.parametrize(
    ("exemption", "customer"),
    [
        (ScaExemption.LOW_VALUE, True),
        (ScaExemption.TRANSACTION_RISK_ANALYSIS, True),
        (ScaExemption.MERCHANT_INITIATED, False),  # off_session needs the saved card's Customer
    ],
)
async def test_exemptions_stripe_cannot_request_are_refused_without_sending(
    gateway: StripeGateway, localstripe_url: str, exemption: ScaExemption, customer: bool
) -> None:
    token, owner = await saved_card(gateway, localstripe_url, "success")
    request = authorization(token, Money(2000, "EUR"), sca_exemption=exemption,
                            customer_reference=owner if customer else None)  # fmt: skip
    outcome = await gateway.authorize(request)
    assert (outcome.status, outcome.failure_code) == (
        OutcomeStatus.DECLINED,
        "SCA_EXEMPTION_UNSUPPORTED",
    )
    assert "STRIPE" in (outcome.failure_reason or "")
    lookup = LookupRequest(request.idempotency_key, TransactionType.AUTHORIZATION, None,
                           request.amount)  # fmt: skip
    assert await gateway.lookup(lookup) is None


async def test_a_lookup_of_an_off_session_authorization_tells_what_was_sent(
    gateway: StripeGateway, localstripe_url: str
) -> None:
    """The reconciler records the exemption of an answer that never arrived."""
    token, customer = await saved_card(gateway, localstripe_url, "success")
    request = authorization(token, Money(2000, "EUR"), customer_reference=customer,
                            sca_exemption=ScaExemption.MERCHANT_INITIATED)  # fmt: skip
    answered = await gateway.authorize(request)
    assert answered.status is OutcomeStatus.SUCCEEDED and answered.sca_exemption_sent
    lookup = LookupRequest(request.idempotency_key, TransactionType.AUTHORIZATION, None,
                           request.amount)  # fmt: skip
    found = await gateway.lookup(lookup)
    assert found is not None
    assert (found.reference, found.sca_exemption_sent) == (
        answered.reference,
        answered.sca_exemption_sent,
    )
