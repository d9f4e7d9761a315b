"""list_payments through the owner-scoped unit of work (as the server runs it) over the
in-memory fakes: keyset pages in both orders, filters, and the access rule that confines an
end user to their own payments whatever the filter or token say."""

from __future__ import annotations

import dataclasses

import pytest

from domain.actor import SYSTEM, Actor, ActorKind
from domain.commands import CreatePayment
from domain.enums import PaymentMethodType
from domain.errors import ValidationFailed
from domain.ownership import OwnerScopedUnitOfWork
from domain.payment import Payment
from domain.usecases.deps import Deps
from domain.usecases.operations import create_and_authorize
from domain.usecases.payments import list_payments
from tests.unit.fakes import FakePorts, order_id, user_id

ALICE, BOB = user_id(1), user_id(2)


def scoped(ports: FakePorts, actor: Actor = SYSTEM) -> Deps:
    return dataclasses.replace(ports.deps_for(actor), uow=OwnerScopedUnitOfWork(ports.uow, actor))


async def seed(ports: FakePorts) -> dict[str, list[Payment]]:
    made: dict[str, list[Payment]] = {ALICE: [], BOB: []}
    for n in range(10):
        user = ALICE if n % 2 == 0 else BOB
        command = CreatePayment(
            order_id=order_id(n + 1), user_id=user, amount_minor=1000 + n,
            currency="EUR" if n < 6 else "USD", payment_method_type=PaymentMethodType.CREDIT_CARD,
            payment_method_token="pm_card_visa", authorize=n % 3 == 0,
        )  # fmt: skip
        made[user].append(await create_and_authorize(command, scoped(ports)))
    return made


async def every_page(
    deps: Deps, filter_text: str = "", order_by: str = "", size: int = 2
) -> list[str]:
    seen, token = [], ""
    while True:
        page, token = await list_payments(size, token, filter_text, order_by, deps)
        seen += [p.id for p in page]
        if not token:
            return seen


async def test_pages_cover_everything_once_in_either_order(ports: FakePorts) -> None:
    made = await seed(ports)
    everyone = sorted(made[ALICE] + made[BOB], key=lambda p: (p.created_at, p.id))
    admin = scoped(ports)
    assert await every_page(admin, order_by="create_time asc", size=3) == [p.id for p in everyone]
    assert await every_page(admin, size=4) == [p.id for p in reversed(everyone)]


async def test_an_end_user_sees_only_their_own_whatever_the_filter(ports: FakePorts) -> None:
    made = await seed(ports)
    alice = scoped(ports, Actor(ActorKind.USER, ALICE, frozenset({"payments:read"})))
    assert await every_page(alice, order_by="create_time asc") == [p.id for p in made[ALICE]]
    assert await every_page(alice, f'user_id = "{BOB}"') == []
    usd = await every_page(alice, "currency = USD", "create_time asc")
    assert usd == [p.id for p in made[ALICE] if p.currency == "USD"]


async def test_a_token_from_another_caller_or_filter_is_refused(ports: FakePorts) -> None:
    await seed(ports)
    bob = scoped(ports, Actor(ActorKind.USER, BOB, frozenset({"payments:read"})))
    _, token = await list_payments(1, "", "", "", bob)
    alice = scoped(ports, Actor(ActorKind.USER, ALICE, frozenset({"payments:read"})))
    for deps, filter_text in ((alice, ""), (bob, "currency = EUR")):
        with pytest.raises(ValidationFailed) as refused:
            await list_payments(1, token, filter_text, "", deps)
        assert refused.value.violations[0].field == "page_token"
