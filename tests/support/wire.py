"""The event renderer tests give a unit of work (what the composition root passes it)."""

from __future__ import annotations

from infra.currency import iso4217_catalog
from server.events_wire import EventRenderer

SOURCE = "/payment-service-tests"
RENDER = EventRenderer(SOURCE, iso4217_catalog().exponent)
