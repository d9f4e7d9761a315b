"""Builds the configured gateways. A real gateway is enabled by its credentials; the
simulator only outside staging and production, where it must never take real orders."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.enums import GatewayName
from domain.gateway import PaymentGateway
from infra.gateways.paypal import PayPalGateway
from infra.gateways.simulator import SimulatorGateway
from infra.gateways.simulator_faults import FaultFile
from infra.gateways.simulator_ledger import SqlLedger
from infra.gateways.stripe import StripeGateway
from server.config import AppEnv, Settings

log = logging.getLogger("payments.gateways")

# The adapter's own HTTP timeout stays below the use case's: the adapter then reports a clean
# "no answer" itself, before the operation is cut off from outside.
ADAPTER_TIMEOUT_MARGIN = 0.8


def build_gateways(settings: Settings, engine: AsyncEngine) -> dict[GatewayName, PaymentGateway]:
    gateways: dict[GatewayName, PaymentGateway] = {}
    if settings.app_env not in (AppEnv.STAGING, AppEnv.PRODUCTION):
        ledger = SqlLedger(engine) if settings.simulator_ledger == "database" else None
        faults = settings.simulator_faults_file
        gateways[GatewayName.SIMULATOR] = SimulatorGateway(
            ledger=ledger,
            latency_seconds=settings.simulator_latency_ms / 1000,
            fault_file=FaultFile(faults) if faults is not None else None,
        )
    timeout = settings.gateway_timeout_seconds * ADAPTER_TIMEOUT_MARGIN
    if (stripe_key := settings.stripe_key()) is not None:
        gateways[GatewayName.STRIPE] = StripeGateway(
            stripe_key.get_secret_value(),
            base_url=settings.stripe_api_base,
            timeout_seconds=timeout,
            next_action_url=settings.stripe_next_action_url,
        )
    paypal_secret = settings.paypal_secret()
    if settings.paypal_client_id and paypal_secret is not None:
        gateways[GatewayName.PAYPAL] = PayPalGateway.create(
            settings.paypal_client_id,
            paypal_secret.get_secret_value(),
            mode=settings.paypal_mode,
            base_url=settings.paypal_api_base,
            timeout=timeout,
        )
    if not gateways:
        log.warning("no gateway is configured: every payment will be refused")
    log.info("gateways enabled", extra={"gateways": sorted(g.value for g in gateways)})
    return gateways


async def close_gateways(gateways: dict[GatewayName, PaymentGateway]) -> None:
    for gateway in gateways.values():
        close = getattr(gateway, "aclose", None)
        if close is not None:
            await close()
