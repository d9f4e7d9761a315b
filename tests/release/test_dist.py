"""`make dist` builds a wheel and an sdist of every Python package at the contract's version,
and `twine check` passes on them (the target fails otherwise)."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_make_dist_builds_checked_packages_at_the_contracts_version(tmp_path: Path) -> None:
    version = (ROOT / "VERSION").read_text().strip()
    out = tmp_path / "dist"
    result = subprocess.run(
        ["make", "--no-print-directory", "dist", f"DIST={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("PASSED") == 6
    assert sorted(p.name for p in out.iterdir()) == [
        f"payments_betterproto-{version}-py3-none-any.whl",
        f"payments_betterproto-{version}.tar.gz",
        f"payments_client-{version}-py3-none-any.whl",
        f"payments_client-{version}.tar.gz",
        f"payments_proto-{version}-py3-none-any.whl",
        f"payments_proto-{version}.tar.gz",
    ]
    with zipfile.ZipFile(out / f"payments_client-{version}-py3-none-any.whl") as wheel:
        names = wheel.namelist()
        metadata = wheel.read(f"payments_client-{version}.dist-info/METADATA").decode()
    assert "payments_client/order_events.py" in names and "payments_client/py.typed" in names
    major = int(version.split(".")[0])
    assert f"Requires-Dist: payments-proto<{major + 1},>={version}" in metadata
    with zipfile.ZipFile(out / f"payments_proto-{version}-py3-none-any.whl") as wheel:
        assert "payments/v1/payment_service_pb2_grpc.pyi" in wheel.namelist()
