from __future__ import annotations

import pytest

from tests.unit.fakes import FakePorts


@pytest.fixture
def ports() -> FakePorts:
    """Fresh fakes per test: tests own their data and run in any order."""
    return FakePorts()
