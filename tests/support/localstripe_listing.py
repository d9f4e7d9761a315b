"""Teaches localstripe the list endpoints the reconciliation report reads, as Stripe documents
them (https://docs.stripe.com/api/payment_intents/list, /api/refunds/list):

- GET /v1/payment_intents and GET /v1/refunds take `created[gte|gt|lte|lt]` (Unix seconds)
  and return newest first, paged by `limit` and `starting_after` (localstripe refuses
  `created` on both and lists in storage order);
- a captured card PaymentIntent shows what was captured as `amount_received`;
- a partial capture releases the rest without a refund (localstripe records the release as
  a refund of the remainder): the release still counts against the charge as before (so
  the refund limits stay as the adapter meets them), but is not listed as a refund.
"""

from __future__ import annotations

from typing import Any

from localstripe import resources
from localstripe.errors import UserError

_COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _created_filter(created: Any) -> list[Any]:
    if created is None:
        return []
    if not isinstance(created, dict) or not set(created) <= set(_COMPARE):
        raise UserError(400, "Invalid created: expected created[gt|gte|lt|lte]")
    tests = []
    for op, raw in created.items():
        bound = resources.try_convert_to_int(raw)
        if not isinstance(bound, int):
            raise UserError(400, f"Invalid created[{op}]: an integer is expected")
        tests.append(lambda obj, op=op, bound=bound: _COMPARE[op](obj.created, bound))
    return tests


def _listed(cls: Any, url: str, keep: Any, created: Any, limit: Any, starting_after: Any) -> Any:
    tests = _created_filter(created)
    listing = resources.List(url, limit=limit, starting_after=starting_after)
    objects = [
        value
        for key, value in resources.store.items()
        if key.startswith(cls.object + ":") and keep(value) and all(t(value) for t in tests)
    ]
    # Newest first, as Stripe lists; the id breaks ties within a second, stably.
    listing._list = sorted(objects, key=lambda o: (o.created, o.id), reverse=True)
    return listing


def list_by_creation() -> None:
    intents, refunds, charges = resources.PaymentIntent, resources.Refund, resources.Charge

    def list_intents(
        cls: Any, /, url: str, created: Any = None, limit: Any = None, starting_after: Any = None,
        **unexpected: Any,
    ) -> Any:  # fmt: skip
        if unexpected:
            raise UserError(400, "Unexpected " + ", ".join(unexpected))
        return _listed(cls, url, lambda _: True, created, limit, starting_after)

    original_refunds = refunds._api_list_all.__func__

    def list_refunds(
        cls: Any, /, url: str, created: Any = None, limit: Any = None, starting_after: Any = None,
        **others: Any,
    ) -> Any:  # fmt: skip
        if created is None and others:  # by charge or payment_intent: localstripe's own
            return original_refunds(cls, url, limit=limit, starting_after=starting_after,
                                    **others)  # fmt: skip
        if others:
            raise UserError(400, "Unexpected " + ", ".join(others))
        keep = lambda r: not getattr(r, "_release", False)  # noqa: E731
        return _listed(cls, url, keep, created, limit, starting_after)

    intents._api_list_all = classmethod(list_intents)
    refunds._api_list_all = classmethod(list_refunds)

    capture = charges._capture

    def capture_releasing_the_rest(self: Any, amount: Any = None, on_success: Any = None) -> None:
        captured = self.amount if amount is None else resources.try_convert_to_int(amount)

        def mark_release() -> None:
            if self.payment_intent:  # 0 until now for cards (localstripe_bank_transfers.py)
                intents._api_retrieve(self.payment_intent).amount_received = captured
            for refund in self.refunds._list:  # the remainder's refund, made just now
                refund._release = True
            if on_success:
                on_success()

        capture(self, amount=amount, on_success=mark_release)

    charges._capture = capture_releasing_the_rest
