"""The amounts of a Payment, as one value object.

Every amount is a `Money`, so an operation across currencies raises `CurrencyMismatch`
instead of adding euros to dollars. The presentment amounts keep the order the database
checks too: 0 <= refunded <= captured <= authorized <= amount; the settlement amounts (in the
settlement currency, domain/settlement.py): 0 <= refunded_settlement <= captured_settlement.
A change makes a new value, checked when it is made.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from domain.money import Money


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
