"""The TypeScript client (clients/typescript) against a real server: its `npm test` runs the
live tests (a checkout, typed errors with field violations, a lost answer retried with its
key acting once, key reuse) with PAYMENTS_GRPC_TARGET and PAYMENTS_TOKEN set, besides its
unit tests and its retry tests on a scripted server of its own."""

from __future__ import annotations

import re

from server.app import PaymentApplication
from tests.support.auth import admin_token
from tests.support.node import CLIENT, run, server_env


async def test_the_typescript_clients_npm_test_passes_against_a_live_server(
    app: PaymentApplication,
) -> None:
    finished = await run("npm", "test", cwd=CLIENT, env=server_env(app.grpc_port, admin_token()))
    assert finished.returncode == 0, finished.report()
    summary = dict(re.findall(r"^# (tests|pass|fail|skipped|cancelled) (\d+)$", finished.out, re.M))
    # The live tests ran (nothing skipped for want of a target) and every test passed.
    assert summary.get("skipped") == "0", finished.report()
    assert summary.get("fail") == "0", finished.report()
    assert int(summary.get("pass", "0")) >= 20, finished.report()
    assert "a keyed call whose answer is lost is retried with its key and acts once" in finished.out
