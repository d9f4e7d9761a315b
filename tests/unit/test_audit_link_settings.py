"""The audit linker's settings: a lease that outlives at least two runs of its holder."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.config import Settings


def test_the_defaults_link_every_half_second_under_a_five_second_lease() -> None:
    settings = Settings()
    assert (settings.audit_link_interval_seconds, settings.audit_link_lease_seconds) == (0.5, 5.0)


def test_a_lease_shorter_than_two_runs_is_refused() -> None:
    with pytest.raises(ValidationError, match="AUDIT_LINK_LEASE_SECONDS"):
        Settings(audit_link_interval_seconds=3, audit_link_lease_seconds=5)
    assert Settings(audit_link_interval_seconds=2.5, audit_link_lease_seconds=5)
