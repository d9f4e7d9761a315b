"""Per-user access (domain/access.py, domain/ownership.py): the use cases, run through the
owner-scoped unit of work as the server runs them, for one user's token against another's
objects, for services and administrators, and for the service itself."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from domain.actor import SYSTEM, Actor, ActorKind
from domain.commands import (
    AddPaymentMethod,
    AuthorizePayment,
    CapturePayment,
    CreatePayment,
    RefundPayment,
)
from domain.enums import PaymentMethodType, PaymentStatus
from domain.errors import (
    ActingForAnotherUser,
    DomainError,
    PaymentAlreadyExists,
    PaymentMethodNotFound,
    PaymentNotFound,
    RefundNotFound,
)
from domain.ownership import OwnerScopedUnitOfWork
from domain.usecases.deps import Deps
from domain.usecases.operations import authorize_payment, capture_payment, create_and_authorize
from domain.usecases.payment_methods import (
    add_payment_method,
    delete_payment_method,
    list_payment_methods,
    set_default_payment_method,
)
from domain.usecases.payments import get_payment
from domain.usecases.refunds import get_refund, list_refunds, refund_payment
from tests.unit.fakes import FakePorts, order_id, user_id

ALICE, BOB = user_id(1), user_id(2)
UNKNOWN_ID = "99999999-9999-4999-8999-999999999999"
CARD = PaymentMethodType.CREDIT_CARD


def as_user(user: str, *scopes: str) -> Actor:
    return Actor(ActorKind.USER, user, frozenset(scopes))


def scoped(ports: FakePorts, actor: Actor = SYSTEM) -> Deps:
    """The ports for `actor`, its unit of work scoped to what it may see (as in the server)."""
    return dataclasses.replace(ports.deps_for(actor), uow=OwnerScopedUnitOfWork(ports.uow, actor))


def create_command(user: str, n: int = 1, **changes: Any) -> CreatePayment:
    fields: dict[str, Any] = {
        "order_id": order_id(n),
        "user_id": user,
        "amount_minor": 10_000,
        "currency": "EUR",
        "payment_method_type": CARD,
        "payment_method_token": "pm_card_visa",
        "authorize": True,
    }
    return CreatePayment(**(fields | changes))


@dataclasses.dataclass
class Alices:
    payment_id: str  # captured, partly refunded
    refund_id: str
    method_id: str  # her default method


async def alices_objects(ports: FakePorts) -> Alices:
    deps = scoped(ports, as_user(ALICE))
    method = await add_payment_method(AddPaymentMethod(ALICE, CARD, "pm_card_visa"), deps)
    payment = await create_and_authorize(create_command(ALICE), deps)
    await capture_payment(CapturePayment(payment.id), deps)
    refund, _ = await refund_payment(RefundPayment(payment.id, 1_000), deps)
    return Alices(payment.id, refund.id, method.id)


def same_error(got: DomainError, expected: DomainError, own_id: str) -> None:
    """Identical to the answer for an id that does not exist, once the ids are swapped."""
    assert type(got) is type(expected)
    assert got.message == expected.message
    swapped = {k: (UNKNOWN_ID if v == own_id else v) for k, v in got.metadata.items()}
    assert swapped == expected.metadata


async def error_of(call: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    return caught.value


async def test_another_users_payment_refund_and_method_answer_like_missing_ones(
    ports: FakePorts,
) -> None:
    alice = await alices_objects(ports)
    calls_before = len(ports.gateway.calls)
    deps = scoped(ports, as_user(BOB, "payments:read", "payments:write"))
    attempts: list[tuple[Callable[[str, Deps], Awaitable[Any]], str]] = [
        (get_payment, alice.payment_id),
        (get_refund, alice.refund_id),
        (list_refunds_of, alice.payment_id),
        (capture, alice.payment_id),
        (refund, alice.payment_id),
        (delete_payment_method, alice.method_id),
        (set_default_payment_method, alice.method_id),
    ]
    for call, own_id in attempts:
        got = await error_of(call(own_id, deps))
        expected = await error_of(call(UNKNOWN_ID, deps))
        assert isinstance(got, PaymentNotFound | RefundNotFound | PaymentMethodNotFound), call
        same_error(got, expected, own_id)
    listed = await list_payment_methods(ALICE, 0, "", deps)
    assert listed.items == [] and listed.next_page_token == ""
    assert len(ports.gateway.calls) == calls_before  # nothing reached the gateway
    deps = scoped(ports, as_user(ALICE))  # her objects are untouched
    payment = await get_payment(alice.payment_id, deps)
    methods = await list_payment_methods(ALICE, 0, "", deps)
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert [(m.id, m.is_default) for m in methods.items] == [(alice.method_id, True)]


async def list_refunds_of(payment_id: str, deps: Deps) -> Any:
    return await list_refunds(payment_id, 0, "", deps)


async def capture(payment_id: str, deps: Deps) -> Any:
    return await capture_payment(CapturePayment(payment_id), deps)


async def refund(payment_id: str, deps: Deps) -> Any:
    return await refund_payment(RefundPayment(payment_id, 100), deps)


async def test_a_user_cannot_create_for_another_user_nor_use_their_method(
    ports: FakePorts,
) -> None:
    alice = await alices_objects(ports)
    calls_before = len(ports.gateway.calls)
    deps = scoped(ports, as_user(BOB))
    for call in (
        create_and_authorize(create_command(ALICE, 2), deps),
        add_payment_method(AddPaymentMethod(ALICE, CARD, "pm_card_visa"), deps),
    ):
        error = await error_of(call)
        assert isinstance(error, ActingForAnotherUser)
        assert error.kind.value == "PERMISSION_DENIED"
    paid_with_hers = await error_of(
        create_and_authorize(
            create_command(BOB, 3, payment_method_token="", payment_method_id=alice.method_id),
            deps,
        )
    )
    assert isinstance(paid_with_hers, PaymentMethodNotFound)
    assert len(ports.gateway.calls) == calls_before
    assert ports.uow.db.payments.keys() == {alice.payment_id}


async def test_an_order_taken_by_another_user_does_not_reveal_their_payment(
    ports: FakePorts,
) -> None:
    alice = await alices_objects(ports)
    deps = scoped(ports, as_user(BOB))
    bob = await error_of(create_and_authorize(create_command(BOB, 1), deps))
    deps = scoped(ports, as_user(ALICE))
    own = await error_of(create_and_authorize(create_command(ALICE, 1), deps))
    assert isinstance(bob, PaymentAlreadyExists) and isinstance(own, PaymentAlreadyExists)
    assert bob.metadata == {"order_id": order_id(1)}
    assert own.metadata["payment_id"] == alice.payment_id


@pytest.mark.parametrize(
    "actor",
    [
        Actor(ActorKind.SERVICE, "orders-service", frozenset({"payments:write"})),
        Actor(ActorKind.USER, BOB, frozenset({"admin"})),
        Actor(ActorKind.GATEWAY, "stripe"),
        Actor(ActorKind.ANONYMOUS, "anonymous"),
        None,  # the service itself (SYSTEM), e.g. the order events consumer
    ],
    ids=["service", "admin-user", "gateway", "anonymous", "system"],
)
async def test_services_admins_and_the_system_act_for_any_user(
    ports: FakePorts, actor: Actor | None
) -> None:
    alice = await alices_objects(ports)
    deps = scoped(ports, actor or SYSTEM)
    assert (await get_payment(alice.payment_id, deps)).user_id == ALICE
    assert (await get_refund(alice.refund_id, deps)).id == alice.refund_id
    assert len((await list_refunds(alice.payment_id, 0, "", deps)).items) == 1
    methods = await list_payment_methods(ALICE, 0, "", deps)
    assert [m.id for m in methods.items] == [alice.method_id]
    created = await create_and_authorize(create_command(ALICE, 5), deps)
    assert created.user_id == ALICE
    await set_default_payment_method(alice.method_id, deps)


async def test_a_user_acts_on_their_own_objects(ports: FakePorts) -> None:
    alice = await alices_objects(ports)
    deps = scoped(ports, as_user(ALICE))
    second = await create_and_authorize(create_command(ALICE, 7, authorize=False), deps)
    authorized = await authorize_payment(AuthorizePayment(second.id), deps)
    captured = await capture_payment(CapturePayment(second.id), deps)
    assert authorized.status is PaymentStatus.AUTHORIZED
    assert captured.status is PaymentStatus.CAPTURED
    assert (await get_refund(alice.refund_id, deps)).payment_id == alice.payment_id
    await delete_payment_method(alice.method_id, deps)
    assert (await list_payment_methods(ALICE, 0, "", deps)).items == []
