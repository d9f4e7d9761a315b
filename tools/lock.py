"""Refresh the hash-locked requirements (`make lock`): a deliberate act, never a side effect
of installing. Every install (make run, make test, CI, the Dockerfile) takes exactly these
versions and refuses a file whose hash differs, so a registry release cannot change what the
service does between two machines.

    python tools/lock.py            # rewrite requirements/*.lock from requirements/*.in
    python tools/lock.py --upgrade  # also move every package to its newest allowed version

requirements/service.lock is what the image runs; requirements/dev.lock adds the tools, the
test dependencies and the embedded servers. The project's own packages (generated/,
clients/, the service) are resolved from their pyproject.toml but left out of the lock:
they are installed from the checkout with --no-deps after it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("service", "dev")


def compile_lock(name: str, upgrade: bool) -> None:
    # Paths relative to the checkout: the lock names no directory of this machine.
    source, lock = f"requirements/{name}.in", ROOT / "requirements" / f"{name}.lock"
    command = [
        sys.executable, "-m", "piptools", "compile", "--quiet", "--generate-hashes",
        "--allow-unsafe", "--strip-extras", "--no-emit-index-url", "--no-emit-find-links",
        "--no-header", "--output-file", str(lock), source,
    ]  # fmt: skip
    if upgrade:
        command.append("--upgrade")
    subprocess.run(command, cwd=ROOT, check=True)  # noqa: S603 - our own fixed command
    lock.write_text(without_local_packages(lock.read_text()))


def without_local_packages(text: str) -> str:
    """Drops the editable checkout entries (absolute paths of this machine, not hashable)."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line.startswith("-e file:"):
            skipping = True
            # pip-compile's warning about the unhashable entry sits just above it.
            while kept and kept[-1].startswith("# "):
                kept.pop()
            continue
        if skipping and line.startswith("    #"):
            continue
        skipping = False
        kept.append(line)
    header = [
        "# Hash-locked by `make lock` (tools/lock.py) from requirements/*.in; do not edit.",
        "# Install: pip install --require-hashes --no-deps -r <this file>, then the checkout's",
        "# own packages with --no-deps --no-build-isolation.",
    ]
    return "\n".join([*header, *kept]) + "\n"


def main() -> None:
    upgrade = "--upgrade" in sys.argv[1:]
    for name in LOCKS:
        compile_lock(name, upgrade)
        print(f"requirements/{name}.lock written")


if __name__ == "__main__":
    main()
