"""Stripe bank transfers against localstripe (taught the flow by
tests/support/localstripe_bank_transfers.py): the PaymentIntent waits with the transfer
instructions, and succeeds when the transfer arrives."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain.enums import NextActionType, PaymentMethodType, TransactionType
from domain.gateway import AuthorizationRequest, LookupRequest, OutcomeStatus
from domain.money import Money
from infra.gateways.stripe import StripeGateway
from tests.integration.test_stripe_gateway import gateway_for, recorded
from tests.support.localstripe import send_bank_transfer

BANK = PaymentMethodType.BANK_TRANSFER


@pytest.fixture
async def gateway(localstripe_url: str) -> AsyncIterator[StripeGateway]:
    adapter = gateway_for(localstripe_url)
    yield adapter
    await adapter.aclose()


def transfer(amount: Money, **fields: Any) -> AuthorizationRequest:
    return AuthorizationRequest(
        idempotency_key=f"stripe-test-{uuid.uuid4().hex}",
        payment_id=f"pay-{uuid.uuid4().hex}",
        amount=amount,
        payment_method_type=fields.pop("payment_method_type", BANK),
        payment_method_token="",
        **fields,
    )


async def test_a_euro_transfer_waits_with_its_instructions(
    gateway: StripeGateway, localstripe_url: str
) -> None:
    waiting = await gateway.authorize(transfer(Money(12_345, "EUR"), country="DE"))
    assert waiting.status is OutcomeStatus.REQUIRES_ACTION and waiting.reference
    action = waiting.next_action
    assert action is not None and action.type is NextActionType.DISPLAY_BANK_TRANSFER_INSTRUCTIONS
    shown = action.bank_transfer
    assert shown is not None
    assert shown.type == "eu_bank_transfer"
    assert shown.amount_remaining == Money(12_345, "EUR")
    assert shown.reference
    assert [(a.type, a.country, a.iban[:2]) for a in shown.accounts] == [("iban", "DE", "DE")]
    assert action.url.startswith("https://")
    intent = await recorded(localstripe_url, f"/v1/payment_intents/{waiting.reference}")
    assert intent["payment_method_types"] == ["customer_balance"]
    assert intent["customer"].startswith("cus_")  # made for the payment: balances are a Customer's


async def test_an_eu_transfer_from_elsewhere_goes_to_the_default_account_country(
    gateway: StripeGateway,
) -> None:
    waiting = await gateway.authorize(transfer(Money(5_000, "EUR"), country="IT"))
    assert waiting.next_action is not None and waiting.next_action.bank_transfer is not None
    assert waiting.next_action.bank_transfer.accounts[0].country == "NL"


async def test_pounds_go_by_sort_code(gateway: StripeGateway) -> None:
    waiting = await gateway.authorize(transfer(Money(2_500, "GBP"), country="GB"))
    assert waiting.next_action is not None and waiting.next_action.bank_transfer is not None
    (account,) = waiting.next_action.bank_transfer.accounts
    assert (account.type, account.sort_code) == ("sort_code", "040075")


async def test_the_arriving_transfer_completes_the_payment_intent(
    gateway: StripeGateway, localstripe_url: str
) -> None:
    request = transfer(Money(10_000, "EUR"), country="FR")
    waiting = await gateway.authorize(request)
    assert waiting.reference is not None
    intent = await recorded(localstripe_url, f"/v1/payment_intents/{waiting.reference}")
    customer = intent["customer"]

    await send_bank_transfer(localstripe_url, customer, 4_000, "EUR")
    partly = await recorded(localstripe_url, f"/v1/payment_intents/{waiting.reference}")
    shown = partly["next_action"]["display_bank_transfer_instructions"]
    assert (partly["status"], shown["amount_remaining"]) == ("requires_action", 6_000)

    await send_bank_transfer(localstripe_url, customer, 6_000, "EUR")
    paid = await recorded(localstripe_url, f"/v1/payment_intents/{waiting.reference}")
    assert (paid["status"], paid["amount_received"]) == ("succeeded", 10_000)
    found = await gateway.lookup(
        LookupRequest(
            request.idempotency_key,
            TransactionType.AUTHORIZATION,
            waiting.reference,
            request.amount,
        )
    )
    assert found is not None and found.status is OutcomeStatus.SUCCEEDED


async def test_crypto_and_unsupported_currencies_are_declined_without_sending(
    gateway: StripeGateway,
) -> None:
    crypto = await gateway.authorize(
        transfer(Money(1_000, "EUR"), payment_method_type=PaymentMethodType.CRYPTO)
    )
    assert crypto.failure_code == "PAYMENT_METHOD_NOT_SUPPORTED"
    francs = await gateway.authorize(transfer(Money(1_000, "CHF")))
    assert francs.failure_code == "PAYMENT_METHOD_NOT_SUPPORTED"


def test_what_stripe_declares_it_takes(gateway: StripeGateway) -> None:
    declared = gateway.capabilities
    assert declared.method_types == {
        PaymentMethodType.CREDIT_CARD, PaymentMethodType.DEBIT_CARD, BANK
    }  # fmt: skip
    assert declared.takes(BANK, "EUR", "DE", 50)
    assert not declared.takes(BANK, "EUR", "DE", 49)  # Stripe's minimum charge
    assert not declared.takes(BANK, "CHF", "CH")
    assert declared.takes(PaymentMethodType.CREDIT_CARD, "CHF", "CH", 1)
