"""Reading disputes (DisputeService). Disputes are written only by gateway webhooks
(domain/usecases/webhooks.py); the access rule is the unit of work's (ownership.py)."""

from __future__ import annotations

from domain.dispute import Dispute
from domain.dispute_listing import dispute_query, encode_dispute_token
from domain.errors import ValidationFailed
from domain.usecases.deps import Deps
from domain.validation import require_uuid


async def get_dispute(dispute_id: str, deps: Deps) -> Dispute:
    violations = require_uuid("dispute_id", dispute_id)
    if violations:
        raise ValidationFailed(violations)
    async with deps.uow as uow:
        return await uow.disputes.get(dispute_id)


async def list_disputes(
    page_size: int, page_token: str, filter_text: str, deps: Deps
) -> tuple[list[Dispute], str]:
    """A page of the disputes the caller may see that match the filter, newest first, and
    the token of the next page ("" after the last), bound to this filter and caller."""
    query = dispute_query(page_size, page_token, filter_text, deps.actor.subject)
    async with deps.uow as uow:
        page = await uow.disputes.search(query)
    token = ""
    if page.next_cursor is not None:
        token = encode_dispute_token(page.next_cursor, query.filter, deps.actor.subject)
    return page.items, token
