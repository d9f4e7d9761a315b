"""Generate the Python code of the contract, or check that the committed code is current.

    python tools/proto_gen.py generate   # rewrite generated/payments from protos/
    python tools/proto_gen.py check      # exit 1 when generated/ differs from a fresh run
    python tools/proto_gen.py vendor     # refresh third_party/protos from the installed wheel

The imported Google protos (google/api, google/rpc) are vendored in third_party/protos, copied
from the googleapis-common-protos wheel (which ships the .proto sources), so that protoc and
buf - including `buf breaking` against another commit - build offline from the repository.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
GENERATED = ROOT / "generated"
DEPS = ROOT / "third_party" / "protos"
IMPORTED = [
    "google/api/annotations.proto",
    "google/api/http.proto",
    "google/api/httpbody.proto",
    "google/api/field_behavior.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
    "google/rpc/code.proto",
]
PACKAGE_MARKERS = ["payments/__init__.py", "payments/v1/__init__.py", "payments/py.typed"]


def vendor_imported_protos() -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    for rel in IMPORTED:
        target = DEPS / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(site / rel, target)


def plugin(name: str) -> str:
    """A protoc plugin installed next to this interpreter (mypy-protobuf's)."""
    found = Path(sys.executable).parent / name
    if not found.exists():
        raise SystemExit(f"{name} is missing: install the dev lock (make venv)")
    return str(found)


def run_protoc(out: Path) -> None:
    deps = DEPS
    wkt = Path(protoc.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{deps}",
        f"-I{wkt}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        # mypy-protobuf: typed .pyi of the messages and of the gRPC stubs (sync and aio),
        # so that a caller's mypy sees every field and every method.
        f"--plugin=protoc-gen-mypy={plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={plugin('protoc-gen-mypy_grpc')}",
        f"--mypy_out=quiet,readable_stubs:{out}",
        f"--mypy_grpc_out=quiet,readable_stubs:{out}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for marker in PACKAGE_MARKERS:
        (out / marker).touch()


def generated_files(base: Path) -> set[str]:
    return {
        str(p.relative_to(base))
        for p in (base / "payments").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def generate() -> None:
    shutil.rmtree(GENERATED / "payments", ignore_errors=True)
    run_protoc(GENERATED)


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        run_protoc(fresh)
        want, have = generated_files(fresh), generated_files(GENERATED)
        stale = sorted(want ^ have) + sorted(
            f for f in want & have if not filecmp.cmp(fresh / f, GENERATED / f, shallow=False)
        )
    if stale:
        print("generated/ is stale; run `make generate` and commit:", *stale, sep="\n  ")
        return 1
    print("generated/ is current")
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "generate"
    if command == "generate":
        generate()
    elif command == "check":
        sys.exit(check())
    elif command == "vendor":
        vendor_imported_protos()
    else:
        raise SystemExit(f"unknown command {command!r}")
