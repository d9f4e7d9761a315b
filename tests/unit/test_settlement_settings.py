"""SETTLEMENT_CURRENCY: unset settles each payment in its own currency; set, it must be an ISO
4217 currency in use, and it reaches the use cases through the FX policy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.config import Settings


def test_unset_settles_in_the_presentment_currency() -> None:
    assert Settings().fx_policy().settlement_currency is None


def test_the_merchants_currency_reaches_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETTLEMENT_CURRENCY", "USD")
    assert Settings().fx_policy().settlement_currency == "USD"


@pytest.mark.parametrize("code", ["usd", "XTS", "DEM", "EURO"])
def test_anything_but_a_currency_in_use_is_refused(code: str) -> None:
    with pytest.raises(ValidationError, match="SETTLEMENT_CURRENCY"):
        Settings(settlement_currency=code)
