"""Settings of currencies and FX (README "Currencies and FX"). The ECB euro reference rates
are fetched from FX_ECB_URL every FX_REFRESH_INTERVAL_SECONDS by one process (the background
lease); an empty FX_ECB_URL fetches nothing (rates set by administrators only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from domain.fx import MAX_MARKUP_BPS, FxPolicy
from infra.currency import iso_exponent
from infra.fx.ecb import ECB_DAILY_URL
from server.settings_part import SettingsPart


class FxSettings(SettingsPart):
    fx_ecb_url: str = ECB_DAILY_URL
    fx_refresh_interval_seconds: Annotated[float, Field(gt=0)] = 3600.0
    # A rate valid longer ago than this many seconds is not used (FX_RATE_UNAVAILABLE). The
    # ECB publishes on working days: four days cover a weekend and a holiday.
    fx_max_rate_age: Annotated[int, Field(gt=0)] = 4 * 86400
    # How long a quote's rate stays locked.
    fx_quote_ttl_seconds: Annotated[int, Field(gt=0, le=86400)] = 600
    # Basis points taken off the mid rate of every quote (100 bps = 1 %).
    fx_markup_bps: Annotated[int, Field(ge=0, le=MAX_MARKUP_BPS)] = 0
    # The merchant's currency: payments settle in it (converted at the current rate, or a
    # quote's), unless CreatePayment says otherwise. Empty: each in its presentment currency.
    settlement_currency: str = ""

    def problems(self) -> list[str]:
        problems = []
        if self.fx_ecb_url and not self.fx_ecb_url.startswith(("http://", "https://")):
            problems.append("FX_ECB_URL must be an http:// or https:// URL (or empty)")
        if self.settlement_currency and iso_exponent(self.settlement_currency) is None:
            problems.append(
                "SETTLEMENT_CURRENCY must be an ISO 4217 code of a currency in use (or empty)"
            )
        return problems

    def fx_policy(self) -> FxPolicy:
        return FxPolicy(
            max_rate_age=timedelta(seconds=self.fx_max_rate_age),
            quote_ttl=timedelta(seconds=self.fx_quote_ttl_seconds),
            markup_bps=self.fx_markup_bps,
            settlement_currency=self.settlement_currency or None,
        )
