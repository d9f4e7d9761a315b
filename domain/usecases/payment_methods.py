"""Saved payment methods. One default per user, kept by locking the user's methods."""

from __future__ import annotations

from datetime import datetime

from domain.access import require_acting_for
from domain.audit import AuditAction
from domain.availability import AvailableMethod
from domain.commands import AddPaymentMethod, ListAvailablePaymentMethods
from domain.enums import GatewayName
from domain.errors import GatewayUnavailable, NoGatewayAvailable, PaymentMethodNotFound
from domain.gateway import AttachRequest, PaymentGateway
from domain.pagination import Page, PageRequest
from domain.payment_method import PaymentMethod
from domain.usecases.deps import Deps, validate
from domain.usecases.payments import require_supported_currency, validate_id


def _named_gateway(deps: Deps, name: GatewayName) -> PaymentGateway:
    """A gateway the caller named: one this deployment lacks is the caller's mistake
    (FAILED_PRECONDITION, found by the fuzz suite answering 503), not an outage to retry."""
    try:
        return deps.gateways.get(name)
    except GatewayUnavailable as error:
        raise NoGatewayAvailable(error.message, metadata=error.metadata) from None


async def add_payment_method(cmd: AddPaymentMethod, deps: Deps) -> PaymentMethod:
    validate(cmd)
    require_acting_for(deps.actor, cmd.user_id)  # before the gateway sees the token
    assert cmd.type is not None
    gateway_name = cmd.gateway or deps.gateways.candidates(cmd.type, "", "", None)[0]
    gateway = _named_gateway(deps, gateway_name) if cmd.gateway else deps.gateways.get(gateway_name)
    details = await gateway.describe_payment_method(cmd.payment_method_token, cmd.type)
    method_id = deps.ids.new_id()
    customer = await gateway.attach_to_customer(
        AttachRequest(
            idempotency_key=f"payments-pm-{method_id}",
            token=cmd.payment_method_token,
            method_type=cmd.type,
            owner_id=cmd.user_id,
            customer_reference=await _customer_of(deps, cmd.user_id, gateway_name),
        )
    )
    now = deps.clock.now()
    method = PaymentMethod(
        id=method_id,
        user_id=cmd.user_id,
        type=cmd.type,
        gateway=gateway_name,
        token=cmd.payment_method_token,
        created_at=now,
        updated_at=now,
        card_brand=details.card_brand,
        card_last4=details.card_last4,
        card_expiry_month=details.card_expiry_month,
        card_expiry_year=details.card_expiry_year,
        card_bin=details.card_bin,
        card_fingerprint=details.card_fingerprint,
        paypal_email=cmd.paypal_email or details.paypal_email,
        gateway_customer_id=customer,
    )
    async with deps.uow as uow:
        existing = await uow.payment_methods.lock_user(cmd.user_id)
        if cmd.set_default or not existing:
            for other in existing:
                if other.is_default:
                    await _clear_default(deps, other, now)
            method.make_default(now)
        await uow.payment_methods.add(method)  # audited as payment_method.add
        await uow.commit()
    return method


async def _clear_default(deps: Deps, method: PaymentMethod, now: datetime) -> None:
    method.clear_default(now)
    await deps.uow.payment_methods.save(method)
    deps.uow.describe(method, AuditAction.PAYMENT_METHOD_CLEAR_DEFAULT)


async def _make_default(deps: Deps, method: PaymentMethod, now: datetime) -> None:
    method.make_default(now)
    await deps.uow.payment_methods.save(method)
    deps.uow.describe(method, AuditAction.PAYMENT_METHOD_SET_DEFAULT)


async def _customer_of(deps: Deps, user_id: str, gateway: GatewayName) -> str | None:
    """The gateway customer already holding this user's methods: one customer per user."""
    async with deps.uow as uow:
        methods = await uow.payment_methods.lock_user(user_id)
    return next(
        (m.gateway_customer_id for m in methods if m.gateway is gateway and m.gateway_customer_id),
        None,
    )


async def _owned_methods(
    deps: Deps, payment_method_id: str
) -> tuple[PaymentMethod, list[PaymentMethod]]:
    """The method and all live methods of its owner, locked."""
    method = await deps.uow.payment_methods.get(payment_method_id)
    methods = await deps.uow.payment_methods.lock_user(method.user_id)
    for candidate in methods:
        if candidate.id == payment_method_id:
            return candidate, methods
    raise PaymentMethodNotFound(  # deleted between the two reads
        "no such payment method", metadata={"payment_method_id": payment_method_id}
    )


async def delete_payment_method(payment_method_id: str, deps: Deps) -> None:
    validate_id("payment_method_id", payment_method_id)
    async with deps.uow as uow:
        method, methods = await _owned_methods(deps, payment_method_id)
        now = deps.clock.now()
        was_default = method.is_default
        method.delete(now)
        await uow.payment_methods.save(method)
        uow.describe(method, AuditAction.PAYMENT_METHOD_REMOVE)
        remaining = [m for m in methods if m.id != method.id]
        if was_default and remaining:
            await _make_default(deps, max(remaining, key=lambda m: (m.created_at, m.id)), now)
        await uow.commit()


async def set_default_payment_method(payment_method_id: str, deps: Deps) -> PaymentMethod:
    validate_id("payment_method_id", payment_method_id)
    async with deps.uow as uow:
        method, methods = await _owned_methods(deps, payment_method_id)
        now = deps.clock.now()
        for other in methods:
            if other.is_default and other.id != method.id:
                await _clear_default(deps, other, now)
        if not method.is_default:
            await _make_default(deps, method, now)
        await uow.commit()
    return method


async def list_payment_methods(
    user_id: str, page_size: int, page_token: str, deps: Deps
) -> Page[PaymentMethod]:
    validate_id("user_id", user_id)
    page = PageRequest.parse(page_size, page_token)
    async with deps.uow as uow:
        return await uow.payment_methods.list_for_user(user_id, page)


def list_available_payment_methods(
    query: ListAvailablePaymentMethods, deps: Deps
) -> list[AvailableMethod]:
    """What this deployment can take for such a payment: configuration only, no I/O."""
    validate(query)
    require_supported_currency(deps, query.currency)
    return deps.gateways.available(query.country, query.currency, query.amount_minor)
