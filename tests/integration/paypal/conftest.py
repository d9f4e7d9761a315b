"""A fake PayPal per test and the adapter pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from infra.gateways.paypal import PayPalGateway
from tests.fakes.paypal_scenarios import make_gateway
from tests.fakes.paypal_server import FakePayPal, running_fake_paypal


@pytest.fixture
async def paypal() -> AsyncIterator[FakePayPal]:
    async with running_fake_paypal() as fake:
        yield fake


@pytest.fixture
async def gateway(paypal: FakePayPal) -> AsyncIterator[PayPalGateway]:
    gateway = make_gateway(paypal.url)
    yield gateway
    await gateway.aclose()
