"""The Dockerfile: installs exactly the hash-locked requirements and checks health on the
ops port (read from the file, always); and, where a container engine answers, the image is
built and started against the test PostgreSQL until its /readyz answers 200. Without an
engine (no daemon on the development and CI machines) that test skips, saying why."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.support.polling import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def test_the_image_installs_the_hash_locked_requirements() -> None:
    text = DOCKERFILE.read_text()
    assert "COPY requirements/service.lock requirements/" in text
    assert "pip install --require-hashes --no-deps -r requirements/service.lock" in text
    # The checkout's own packages add nothing unlocked.
    assert "pip install --no-deps --no-build-isolation ./generated ." in text


def test_the_healthcheck_asks_the_ops_port() -> None:
    (healthcheck,) = [line for line in DOCKERFILE.read_text().splitlines() if "/readyz" in line]
    assert "http://127.0.0.1:{p}/readyz" in healthcheck
    assert "OPS_PORT" in healthcheck
    assert "grpc.insecure_channel" not in DOCKERFILE.read_text()  # fails once TLS is on


def _engine_answers() -> str | None:
    """None when a container engine answers, else why not."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker CLI on this machine"
    try:
        info = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 20 s"
    if info.returncode != 0:
        return f"no container engine answers `docker info`: {info.stderr.strip()[:200]}"
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    why = _engine_answers()
    if why is not None:
        pytest.skip(why)
    tag = f"payment-service-test:{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "build", "-t", tag, str(ROOT)],
        check=True,
        timeout=1800,
    )
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], check=False, timeout=120)


@pytest.mark.slow
def test_the_image_starts_and_becomes_ready(image: str, database_url: str) -> None:
    """Host networking: the container reaches the test PostgreSQL on 127.0.0.1."""
    parsed = urlparse(database_url)
    url = f"postgresql://{parsed.netloc}{parsed.path}"
    ops_port, name = free_port(), f"payments-image-{uuid.uuid4().hex[:8]}"
    command = [
        "docker", "run", "-d", "--rm", "--name", name, "--network", "host", "--read-only",
        "--tmpfs", "/tmp", "-e", "APP_ENV=development", "-e", f"DATABASE_URL={url}",
        "-e", f"OPS_PORT={ops_port}", "-e", f"GRPC_PORT={free_port()}",
        "-e", f"APP_PORT={free_port()}", "-e", "SERVER_WORKERS=1", "-e", "FX_ECB_URL=",
        "-e", "EMBEDDED_DATA_DIR=/tmp/data", image,
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=60)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{ops_port}/readyz", timeout=2)
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            assert time.monotonic() < deadline, "the container never became ready"
            time.sleep(0.5)
        assert answer.json()["checks"]["database"] == "ok"
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=False, timeout=60)
