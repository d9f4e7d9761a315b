"""Settings for servers started by the tests."""

from __future__ import annotations

import uuid

from pydantic import SecretStr

from server.config import Settings
from tests.support.auth import auth_settings
from tests.support.encryption import TEST_BLIND_INDEX_KEY, TEST_KEY_RING


def settings_for_tests(**overrides: object) -> Settings:
    """Loopback only, a free port, fast health probes, short drains, the session's keys and
    tokens of this test session's issuer (tests/support/auth.py)."""
    values: dict[str, object] = {
        "grpc_host": "127.0.0.1",
        "grpc_port": 0,
        "ops_host": "127.0.0.1",
        "ops_port": 0,
        "health_check_interval_seconds": 0.2,
        "shutdown_grace_seconds": 5,
        # Many test servers share one PostgreSQL (max_connections 100) with other suites.
        "db_pool_size": 4,
        "encryption_key": SecretStr(TEST_KEY_RING),
        "blind_index_key": SecretStr(TEST_BLIND_INDEX_KEY),
        # Test servers take bursts of calls from one client (concurrency tests); the tests of
        # rate limiting switch it on with their own rates.
        "rate_limit_enabled": False,
        # Each test server is a deployment of its own (its own simulator, its own settings),
        # sharing the session's database with others: it runs its own singleton jobs.
        "background_lease_name": f"tests-{uuid.uuid4().hex}",
        # No test reaches the real ECB: the tests of the feed serve their own (FX_ECB_URL).
        "fx_ecb_url": "",
        # Tests wait for the audit chain's linker: link often.
        "audit_link_interval_seconds": 0.1,
        **auth_settings(),
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]
