"""The TypeScript client and example as the tests run them: Node.js child processes that talk
to a test server (PAYMENTS_GRPC_TARGET, PAYMENTS_TOKEN). Their packages come from `make
typescript-deps` (`make test` does it); the compiled JavaScript (dist/) is built here, so a
test never runs a stale build."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
EXAMPLE = ROOT / "examples" / "typescript"


@dataclass(frozen=True)
class Finished:
    returncode: int
    out: str
    err: str

    def report(self) -> str:
        """The output to show when a test fails (the children never print the token)."""
        return f"exit {self.returncode}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def server_env(port: int, token: str) -> dict[str, str]:
    return dict(os.environ) | {
        "PAYMENTS_GRPC_TARGET": f"127.0.0.1:{port}",
        "PAYMENTS_TOKEN": token,
    }


async def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, within: float = 240
) -> Finished:
    """A child process run to its end without blocking the event loop (the test server in
    this process must keep answering it)."""
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


def _require_packages(package: Path) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the TypeScript client's tests")
    if not (package / "node_modules").is_dir():
        pytest.fail(
            f"{package.relative_to(ROOT)}/node_modules is missing: run `make typescript-deps`"
        )


async def build(package: Path) -> None:
    """`npm run build` (tsc) of clients/typescript or examples/typescript."""
    _require_packages(package)
    built = await run("npm", "run", "--silent", "build", cwd=package)
    assert built.returncode == 0, built.report()
