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
    # The exemption as sent to the gateway, in its terms (None: nothing was sent).
    sca_exemption_sent: str | None = None
    # Whether the issuer applied the exemption, where the gateway said so.
    sca_exemption_applied: bool | None = None

    def concluded(
        self,
        liability_shift: bool | None,
        *,
        exemption_sent: str | None = None,
        exemption_applied: bool | None = None,
    ) -> Authentication:
        """The gateway's answer; None (it said nothing) keeps what was known: a confirmation
        after 3-D Secure does not unsay the exemption the authorization sent."""
        changes: dict[str, object] = {}
        if liability_shift is not None and liability_shift is not self.liability_shift:
            changes["liability_shift"] = liability_shift
        if exemption_sent is not None and exemption_sent != self.sca_exemption_sent:
            changes["sca_exemption_sent"] = exemption_sent
        if exemption_applied is not None and exemption_applied is not self.sca_exemption_applied:
            changes["sca_exemption_applied"] = exemption_applied
        return replace(self, **changes) if changes else self  # type: ignore[arg-type]
