"""The access rule on disputes (domain/access.py): a dispute belongs to the owner of its
payment. An end user reads only the disputes of their own payments; another user's dispute
is reported exactly like a missing one. Wrapped around the repository by ownership.py."""

from __future__ import annotations

from domain.access import confined_to, may_access
from domain.actor import Actor
from domain.dispute import Dispute
from domain.dispute_listing import DisputeQuery
from domain.errors import DisputeNotFound, PaymentNotFound
from domain.pagination import Page
from domain.ports import DisputeRepository, PaymentRepository


def no_dispute(dispute_id: str) -> DisputeNotFound:
    """The same error, word for word, as the repository raises for an id that does not exist."""
    return DisputeNotFound("no such dispute", metadata={"dispute_id": dispute_id})


class OwnedDisputes:
    def __init__(self, inner: DisputeRepository, payments: PaymentRepository, actor: Actor) -> None:
        self._inner = inner
        self._payments = payments  # the unscoped repository: the check itself reads it
        self._actor = actor

    async def _payment_visible(self, payment_id: str) -> bool:
        if confined_to(self._actor) is None:
            return True
        try:
            payment = await self._payments.get(payment_id)
        except PaymentNotFound:
            return False
        return may_access(self._actor, payment.user_id)

    async def add(self, dispute: Dispute) -> None:
        await self._inner.add(dispute)

    async def find_by_gateway_id(self, gateway_dispute_id: str) -> Dispute | None:
        found = await self._inner.find_by_gateway_id(gateway_dispute_id)
        if found is None or not await self._payment_visible(found.payment_id):
            return None
        return found

    async def save(self, dispute: Dispute) -> None:
        await self._inner.save(dispute)

    async def list_for_payment(self, payment_id: str) -> list[Dispute]:
        if not await self._payment_visible(payment_id):
            return []
        return await self._inner.list_for_payment(payment_id)

    async def get(self, dispute_id: str) -> Dispute:
        dispute = await self._inner.get(dispute_id)
        if not await self._payment_visible(dispute.payment_id):
            raise no_dispute(dispute_id)
        return dispute

    async def search(self, query: DisputeQuery) -> Page[Dispute]:
        # Whatever the filter or the token say, an end user's listing reads only the disputes
        # of their own payments: the restriction is part of the SQL, not a check afterwards.
        user = confined_to(self._actor)
        return await self._inner.search(query if user is None else query.confined_to(user))
