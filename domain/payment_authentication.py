"""How a Payment authenticates its customer (3-D Secure, PayPal approval): one value object.
What the gateway asks the customer to do next (`NextAction`) stays beside it on the payment;
the liability shift is what 3-D Secure concluded."""

from __future__ import annotations

from dataclasses import dataclass, replace

from domain.enums import ScaExemption


@dataclass(frozen=True, slots=True)
class Authentication:
    # Where the customer returns after 3-D Secure or PayPal approval.
    return_url: str = ""
    # The SCA exemption the merchant claims, if any.
    sca_exemption: ScaExemption | None = None
    # 3-D Secure result: True when fraud liability shifted to the issuer.
    liability_shift: bool | None = None

    def concluded(self, liability_shift: bool | None) -> Authentication:
        """The gateway's answer; None (it said nothing) keeps what was known."""
        if liability_shift is None or liability_shift is self.liability_shift:
            return self
        return replace(self, liability_shift=liability_shift)
