"""The amounts of a Payment, as one value object.

Every amount is a `Money`, so an operation across currencies raises `CurrencyMismatch`
instead of adding euros to dollars. The presentment amounts keep the order the database
checks too: 0 <= refunded <= captured <= authorized <= amount; the settlement amounts (in the
settlement currency, domain/settlement.py): 0 <= refunded_settlement <= captured_settlement.
A change makes a new value, checked when it is made.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from domain.errors import AmountExceedsCapturable, AmountExceedsRefundable
from domain.money import Money
from domain.settlement import Settlement, capture_settlement, refund_settlement


class AmountsOutOfOrder(ValueError):
    """A change that would break 0 <= refunded <= captured <= authorized <= amount."""


@dataclass(frozen=True, slots=True)
class PaymentAmounts:
    amount: Money
    authorized: Money
    captured: Money
    refunded: Money
    # In the settlement currency (the presentment one when the payment does not convert).
    captured_settlement: Money
    refunded_settlement: Money

    def __post_init__(self) -> None:
        if not Money.zero(self.currency) <= self.refunded <= self.captured <= self.authorized:
            raise AmountsOutOfOrder(f"amounts out of order: {self!r}")
        if not self.authorized <= self.amount:
            raise AmountsOutOfOrder(f"authorized more than the amount: {self!r}")
        settled = self.captured_settlement
        if not Money.zero(settled.currency) <= self.refunded_settlement <= settled:
            raise AmountsOutOfOrder(f"settlement amounts out of order: {self!r}")

    @classmethod
    def of(cls, amount: Money, settlement_currency: str | None = None) -> PaymentAmounts:
        """A new payment's: nothing authorized, captured or refunded yet."""
        zero = Money.zero(amount.currency)
        settled = Money.zero(settlement_currency or amount.currency)
        return cls(amount, zero, zero, zero, settled, settled)

    @property
    def currency(self) -> str:
        return self.amount.currency

    @property
    def fully_refunded(self) -> bool:
        return self.refunded == self.captured

    @property
    def voidable(self) -> Money:
        """What a void releases: the authorization, or the amount before one is known."""
        return self.authorized if self.authorized.is_positive else self.amount

    def settled_in(self, currency: str) -> PaymentAmounts:
        """The settlement currency chosen, before anything was captured."""
        if self.captured.is_positive:
            raise AmountsOutOfOrder("the settlement currency is chosen before any capture")
        zero = Money.zero(currency)
        return replace(self, captured_settlement=zero, refunded_settlement=zero)

    def authorize(self, authorized: Money) -> PaymentAmounts:
        return replace(self, authorized=authorized)

    def capture(self, captured: Money, settlement: Money) -> PaymentAmounts:
        return replace(self, captured=captured, captured_settlement=settlement)

    def refund(self, refund: Money, settlement: Money) -> PaymentAmounts:
        return replace(
            self,
            refunded=self.refunded + refund,
            refunded_settlement=self.refunded_settlement + settlement,
        )

    def refundable(self, pending: Money) -> Money:
        """What a new refund may still take: captured, less refunded and `pending` refunds."""
        return self.captured - self.refunded - pending

    def to_capture(self, amount_minor: int | None, payment_id: str) -> Money:
        """What a capture of `amount_minor` (None: all authorized) takes, if it may."""
        held = self.authorized
        amount = held if amount_minor is None else Money(amount_minor, self.currency)
        if not amount.is_positive or amount > held:
            raise AmountExceedsCapturable(
                f"cannot capture {amount.amount_minor}: only {held.amount_minor} is authorized",
                metadata={
                    "payment_id": payment_id,
                    "capturable_amount_minor": str(held.amount_minor),
                },
            )
        return amount

    def to_refund(self, amount_minor: int | None, pending: Money, payment_id: str) -> Money:
        """What a refund of `amount_minor` (None: all refundable) takes, if it may."""
        refundable = self.refundable(pending)
        amount = refundable if amount_minor is None else Money(amount_minor, self.currency)
        if not amount.is_positive or amount > refundable:
            left = str(refundable.amount_minor)
            raise AmountExceedsRefundable(
                f"cannot refund {amount.amount_minor}: {left} is refundable",
                metadata={"payment_id": payment_id, "refundable_amount_minor": left},
            )
        return amount

    def capture_settlement(self, settles: Settlement, captured: Money) -> Money:
        return capture_settlement(settles, self.amount, captured)

    def refund_settlement(self, settles: Settlement, refund: Money) -> Money:
        """At the capture's rate, cumulatively (domain/settlement.py)."""
        return refund_settlement(
            settles,
            captured=self.captured,
            captured_settlement=self.captured_settlement,
            refunded_before=self.refunded,
            refunded_settlement_before=self.refunded_settlement,
            refund=refund,
        )
