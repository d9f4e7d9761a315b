"""Creating and reading payments."""

from __future__ import annotations

import contextlib

from domain.access import require_acting_for
from domain.commands import CreatePayment
from domain.enums import GatewayName, PaymentMethodType, ScaExemption
from domain.errors import (
    FieldViolation,
    FxQuoteExpired,
    FxRateUnavailable,
    PaymentAlreadyExists,
    PaymentMethodNotFound,
    PaymentMethodUnusable,
    PaymentNotFound,
    ScaExemptionUnsupported,
    UnsupportedCurrency,
    ValidationFailed,
)
from domain.money import Money
from domain.payment import Payment
from domain.payment_amounts import PaymentAmounts
from domain.payment_authentication import Authentication
from domain.payment_listing import encode_token, payment_query
from domain.payment_method import PaymentMethod
from domain.usecases.deps import Deps, validate
from domain.usecases.settlement import settlement_currency, settlement_for
from domain.validation import require_uuid


def require_supported_currency(deps: Deps, currency: str) -> None:
    if deps.currencies.exponent(currency) is None:
        raise UnsupportedCurrency(
            f"currency {currency} is not supported",
            metadata={"currency": currency},
            violations=[FieldViolation("currency", "is not a supported ISO 4217 currency")],
        )


async def usable_saved_method(deps: Deps, payment_method_id: str, user_id: str) -> PaymentMethod:
    """A saved method of this user. Another user's method is reported as not found."""
    async with deps.uow as uow:
        try:
            method = await uow.payment_methods.get(payment_method_id)
        except PaymentMethodNotFound:
            method = None
    if method is None or method.user_id != user_id:
        raise PaymentMethodNotFound(
            "no such payment method for this user",
            metadata={"payment_method_id": payment_method_id},
        )
    return method


async def create_payment(cmd: CreatePayment, deps: Deps) -> Payment:
    validate(cmd)
    require_acting_for(deps.actor, cmd.user_id)  # before anything is read or sent to a gateway
    require_supported_currency(deps, cmd.currency)
    settles_in = settlement_currency(cmd, deps)
    method_type, token, method_id = cmd.payment_method_type, cmd.payment_method_token, None
    customer: str | None = None
    requested_gateway = cmd.gateway
    if cmd.payment_method_id:
        saved = await usable_saved_method(deps, cmd.payment_method_id, cmd.user_id)
        if method_type is not None and method_type is not saved.type:
            raise ValidationFailed(
                [FieldViolation("payment_method_type", f"the saved method is {saved.type.value}")]
            )
        if requested_gateway is not None and requested_gateway is not saved.gateway:
            raise PaymentMethodUnusable(
                "the saved method belongs to another gateway",
                metadata={"payment_method_id": saved.id, "gateway": saved.gateway.value},
            )
        method_type, token, method_id = saved.type, saved.token, saved.id
        customer = saved.gateway_customer_id
        requested_gateway = saved.gateway
    assert method_type is not None  # guaranteed by validation or the saved method
    if cmd.sca_exemption is ScaExemption.MERCHANT_INITIATED and method_id is None:
        # Merchant-initiated means charging a credential the customer saved with us earlier,
        # without them: there is no such credential to send the gateway otherwise.
        raise ScaExemptionUnsupported(
            "a MERCHANT_INITIATED payment charges a saved payment method (payment_method_id)",
            metadata={"sca_exemption": cmd.sca_exemption.value},
        )
    gateway = deps.gateways.candidates(
        method_type, cmd.currency, cmd.country, requested_gateway,
        sca_exemption=cmd.sca_exemption,
    )[0]  # fmt: skip
    async with deps.uow as uow:
        # The id is made inside the transaction that claims the request's key: the same
        # request sent again after a crash makes the same id and finds its payment.
        payment = _new_payment(cmd, deps, deps.ids.new_id(), method_type, gateway, token,
                               method_id, customer)  # fmt: skip
        # No read without conversion; one (the quote, or the rates) with.
        try:
            payment.settle_in(await settlement_for(cmd, deps, settles_in))
        except (FxQuoteExpired, FxRateUnavailable):
            # Sent again after a crash that followed its creation: the answer is the payment
            # it created, whatever the quote or the rates say now.
            with contextlib.suppress(PaymentNotFound):
                return await uow.payments.get(payment.id)
            raise
        try:
            await uow.payments.add(payment)  # audited as payment.create, with all its fields
            if not cmd.authorize:
                uow.conclude(payment)  # the request's answer, in the same transaction
            await uow.commit()
        except PaymentAlreadyExists as taken:  # from the add or from the commit
            if taken.metadata.get("payment_id") != payment.id:
                raise
            return await uow.payments.get(payment.id)  # created by this request before
    return payment


def _new_payment(  # noqa: PLR0917 - the parts create_payment resolved
    cmd: CreatePayment,
    deps: Deps,
    payment_id: str,
    method_type: PaymentMethodType,
    gateway: GatewayName,
    token: str | None,
    method_id: str | None,
    customer: str | None,
) -> Payment:
    now = deps.clock.now()
    return Payment(
        id=payment_id,
        order_id=cmd.order_id,
        user_id=cmd.user_id,
        amounts=PaymentAmounts.of(Money(cmd.amount_minor, cmd.currency)),
        payment_method_type=method_type,
        gateway=gateway,
        created_at=now,
        updated_at=now,
        payment_method_id=method_id,
        payment_method_token=token,
        gateway_customer_id=customer,
        description=cmd.description,
        metadata=dict(cmd.metadata),
        authentication=Authentication(cmd.return_url, cmd.sca_exemption),
        country=cmd.country,
        capture_on_authorization=cmd.capture_on_authorization,
    )


async def get_payment(payment_id: str, deps: Deps) -> Payment:
    validate_id("payment_id", payment_id)
    async with deps.uow as uow:
        return await uow.payments.get(payment_id)


async def list_payments(
    page_size: int, page_token: str, filter_text: str, order_by: str, deps: Deps
) -> tuple[list[Payment], str]:
    """A page of the payments the caller may see that match the filter, and the token of
    the next page ("" after the last). The token is bound to this filter, order and caller."""
    query = payment_query(page_size, page_token, filter_text, order_by, deps.actor.subject)
    async with deps.uow as uow:
        page = await uow.payments.search(query)
    token = ""
    if page.next_cursor is not None:
        token = encode_token(page.next_cursor, query.filter, query.descending, deps.actor.subject)
    return page.items, token


def validate_id(field: str, value: str) -> None:
    violations = require_uuid(field, value)
    if violations:
        raise ValidationFailed(violations)
