"""Generate the Python code of the contract, or check that the committed code is current.

    python tools/proto_gen.py generate   # rewrite generated/payments (grpcio) and the
                                         # betterproto2 client's code from protos/
    python tools/proto_gen.py check      # exit 1 when either differs from a fresh run
    python tools/proto_gen.py vendor     # refresh third_party/protos from the installed wheel

The imported Google protos (google/api, google/rpc) are vendored in third_party/protos, copied
from the googleapis-common-protos wheel (which ships the .proto sources), so that protoc and
buf - including `buf breaking` against another commit - build offline from the repository.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
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
PACKAGE_MARKERS = [
    "payments/__init__.py",
    "payments/v1/__init__.py",
    "payments/py.typed",
    "buf/__init__.py",
    "buf/validate/__init__.py",
    "buf/py.typed",
]
# Compiled into generated/ next to payments/: the contract's rules (buf.validate options) are
# readable from the descriptors only when their extension's module is importable. The
# protovalidate wheel ships no validate_pb2 (only its own runtime's copy), so this one is ours.
# Vendored from github.com/bufbuild/protovalidate (proto/protovalidate/buf/validate).
VENDORED_SOURCES = ["buf/validate/validate.proto"]
GENERATED_PACKAGES = ("payments", "buf")
# The betterproto2 client's dataclass messages and grpclib stubs: a subpackage of its own
# (the compiler writes relative imports under one root, Google's types included).
BETTERPROTO = ROOT / "clients" / "betterproto" / "payments_betterproto" / "proto"


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
        *VENDORED_SOURCES,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for marker in PACKAGE_MARKERS:
        (out / marker).touch()
    write_comments(sources, out / COMMENTS)


# The contract's comments by full name (messages, fields, enums, values, methods): the
# compiled descriptors carry no source info, and the OpenAPI document's descriptions are
# these comments (server/rest/openapi_rules.py).
COMMENTS = Path("payments") / "v1" / "comments.json"
# FileDescriptorProto field numbers in a SourceCodeInfo location path.
_MESSAGE, _ENUM, _SERVICE, _FIELD, _VALUE, _METHOD, _NESTED = 4, 5, 6, 2, 2, 2, 3


def write_comments(sources: list[str], target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "contract.binpb"
        wkt = Path(protoc.__file__).parent / "_proto"
        args = [
            "protoc", f"-I{PROTO_ROOT}", f"-I{DEPS}", f"-I{wkt}",
            "--include_source_info", f"--descriptor_set_out={image}", *sources,
        ]  # fmt: skip
        if protoc.main(args) != 0:
            raise SystemExit("protoc (descriptor set) failed")
        files = descriptor_pb2.FileDescriptorSet.FromString(image.read_bytes()).file
    comments: dict[str, str] = {}
    for file in files:
        names = _names_by_path(file)
        for location in file.source_code_info.location:
            text = location.leading_comments.strip()
            name = names.get(tuple(location.path))
            if text and name:
                comments[name] = " ".join(line.strip() for line in text.splitlines())
    target.write_text(json.dumps(dict(sorted(comments.items())), indent=1) + "\n")


def _names_by_path(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    names: dict[tuple[int, ...], str] = {}

    def message(proto: descriptor_pb2.DescriptorProto, path: tuple[int, ...], scope: str) -> None:
        name = f"{scope}.{proto.name}"
        names[path] = name
        for i, field in enumerate(proto.field):
            names[(*path, _FIELD, i)] = f"{name}.{field.name}"
        for i, nested in enumerate(proto.nested_type):
            message(nested, (*path, _NESTED, i), name)

    for i, msg in enumerate(file.message_type):
        message(msg, (_MESSAGE, i), file.package)
    for i, enum in enumerate(file.enum_type):
        names[(_ENUM, i)] = f"{file.package}.{enum.name}"
        for j, value in enumerate(enum.value):
            names[(_ENUM, i, _VALUE, j)] = f"{file.package}.{value.name}"
    for i, service in enumerate(file.service):
        names[(_SERVICE, i)] = f"{file.package}.{service.name}"
        for j, method in enumerate(service.method):
            names[(_SERVICE, i, _METHOD, j)] = f"{file.package}.{service.name}.{method.name}"
    return names


def run_betterproto(out: Path) -> None:
    """betterproto2-compiler (async grpclib stubs). It formats its output with the `ruff` on
    PATH, from the working directory: both are pinned here (the venv's ruff, the checkout's
    ruff settings) so that a check run anywhere regenerates the same bytes."""
    out.mkdir(parents=True, exist_ok=True)
    wkt = Path(protoc.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    bin_dir = Path(sys.executable).parent
    command = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{PROTO_ROOT}", f"-I{DEPS}", f"-I{wkt}",
        f"--plugin=protoc-gen-python_betterproto2={plugin('protoc-gen-python_betterproto2')}",
        f"--python_betterproto2_out=client_generation=async:{out}",
        *sources,
    ]  # fmt: skip
    env = os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    # Our own fixed command; the plugin's chatter ("Writing ...") is not ours to print.
    done = subprocess.run(  # noqa: S603
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"protoc (betterproto2) failed:\n{done.stderr}")


def files_under(base: Path) -> set[str]:
    return {
        str(p.relative_to(base))
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def generated_files(base: Path) -> set[str]:
    return {
        f"{package}/{name}"
        for package in GENERATED_PACKAGES
        for name in files_under(base / package)
    }


def stale_files(fresh: Path, have: Path, want_names: set[str], have_names: set[str]) -> list[str]:
    return sorted(want_names ^ have_names) + sorted(
        f for f in want_names & have_names if not filecmp.cmp(fresh / f, have / f, shallow=False)
    )


def generate() -> None:
    for package in GENERATED_PACKAGES:
        shutil.rmtree(GENERATED / package, ignore_errors=True)
    run_protoc(GENERATED)
    shutil.rmtree(BETTERPROTO, ignore_errors=True)
    run_betterproto(BETTERPROTO)


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "grpcio"
        fresh.mkdir()
        run_protoc(fresh)
        stale = stale_files(fresh, GENERATED, generated_files(fresh), generated_files(GENERATED))
        fresh_bp = Path(tmp) / "betterproto"
        run_betterproto(fresh_bp)
        have_bp = files_under(BETTERPROTO) if BETTERPROTO.exists() else set()
        stale += [
            str((BETTERPROTO / f).relative_to(ROOT))
            for f in stale_files(fresh_bp, BETTERPROTO, files_under(fresh_bp), have_bp)
        ]
    if stale:
        print("generated code is stale; run `make generate` and commit:", *stale, sep="\n  ")
        return 1
    print("generated/ and the betterproto2 client's code are current")
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
