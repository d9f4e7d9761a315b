"""The contract runs once per adapter.

Adding an adapter is one line: its name in ADAPTERS, given a module `<name>_harness.py` in this
package whose fixture `<name>_harness` yields a GatewayHarness.
"""

from __future__ import annotations

import importlib

import pytest

from tests.gateway_contract.harness import GatewayHarness

ADAPTERS = ("simulator", "stripe", "paypal")

# Each harness module's fixture, made visible to pytest through this conftest.
for _adapter in ADAPTERS:
    _name = f"{_adapter}_harness"
    globals()[_name] = getattr(importlib.import_module(f"tests.gateway_contract.{_name}"), _name)


@pytest.fixture(params=ADAPTERS)
def harness(request: pytest.FixtureRequest) -> GatewayHarness:
    found: GatewayHarness = request.getfixturevalue(f"{request.param}_harness")
    return found
