"""Generate the TypeScript of the contract for clients/typescript, or check that the committed
code is current.

    python tools/ts_gen.py generate   # rewrite clients/typescript/src/gen from protos/
    python tools/ts_gen.py check      # exit 1 when it differs from a fresh run

buf (tools/node_modules) runs the protoc-gen-es installed by clients/typescript's own lock
(buf.gen.ts.yaml), so the generator's version is the one the package's runtime matches.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from proto_gen import files_under, stale_files  # tools/ is this script's directory

ROOT = Path(__file__).resolve().parent.parent
BUF = ROOT / "tools" / "node_modules" / ".bin" / "buf"
PLUGIN = ROOT / "clients" / "typescript" / "node_modules" / ".bin" / "protoc-gen-es"
TEMPLATE = "buf.gen.ts.yaml"
OUT = Path("clients") / "typescript" / "src" / "gen"


def run_buf(base: Path | None = None) -> None:
    for tool, target in ((BUF, "make tools"), (PLUGIN, "make typescript-deps")):
        if not tool.exists():
            raise SystemExit(f"{tool.relative_to(ROOT)} is missing: run `{target}`")
    args = [str(BUF), "generate", "--template", TEMPLATE]
    if base is not None:
        args += ["--output", str(base)]
    subprocess.run(args, cwd=ROOT, check=True)  # noqa: S603 - our own fixed command


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        run_buf(Path(tmp))
        fresh, have = Path(tmp) / OUT, ROOT / OUT
        stale = stale_files(fresh, have, files_under(fresh), files_under(have))
    if stale:
        print(f"{OUT} is stale; run `make generate` and commit:", *stale, sep="\n  ")
        return 1
    print(f"{OUT} is current")
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "generate"
    if command == "generate":
        run_buf()
    elif command == "check":
        sys.exit(check())
    else:
        raise SystemExit(f"unknown command {command!r}")
