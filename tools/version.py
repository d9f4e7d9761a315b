"""One version for the contract and every package built from it: the VERSION file at the root.

    python tools/version.py check   # exit 1 when a package's version drifted from VERSION
    python tools/version.py sync    # write VERSION into every package (after bumping it)

The packages are found, not listed, so that a new client is covered the day it is added:
generated/pyproject.toml and clients/*/pyproject.toml ([project] version, and a payments-proto
requirement pinned to this major: the stubs a client was built with, or newer within v1),
clients/*/package.json ("version"). The AsyncAPI document takes its info.version from VERSION
when it is generated (tools/asyncapi_gen.py), so `make check-generated` catches it too.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_PROJECT_VERSION = re.compile(r'^(version\s*=\s*)"([^"]*)"', re.MULTILINE)
# A requirement on payments-proto (not the name of the package itself, nor payments-proto-x).
_PROTO_REQUIREMENT = re.compile(r'(?<!name = )"payments-proto(?:[^"\w-][^"]*)?"')
_NPM_VERSION = re.compile(r'^(\s*"version"\s*:\s*)"([^"]*)"', re.MULTILINE)


def read_version(root: Path = ROOT) -> str:
    text = (root / "VERSION").read_text().strip()
    if not SEMVER.match(text):
        raise SystemExit(f"VERSION must be MAJOR.MINOR.PATCH, not {text!r}")
    return text


def proto_requirement(version: str) -> str:
    major = int(version.split(".", maxsplit=1)[0])
    return f'"payments-proto>={version},<{major + 1}"'


def pyprojects(root: Path = ROOT) -> list[Path]:
    return [root / "generated" / "pyproject.toml", *sorted(root.glob("clients/*/pyproject.toml"))]


def package_jsons(root: Path = ROOT) -> list[Path]:
    return sorted(root.glob("clients/*/package.json"))


def synced_pyproject(text: str, version: str) -> str:
    # Only the first `version = ` - the [project] table's, which comes before any tool table.
    text = _PROJECT_VERSION.sub(lambda m: f'{m.group(1)}"{version}"', text, count=1)
    return _PROTO_REQUIREMENT.sub(proto_requirement(version), text)


def synced_package_json(text: str, version: str) -> str:
    return _NPM_VERSION.sub(lambda m: f'{m.group(1)}"{version}"', text, count=1)


def problems(root: Path = ROOT) -> list[str]:
    """What drifted from VERSION, one line per file; empty when all agree."""
    version = read_version(root)
    found = []
    for path in pyprojects(root):
        text = path.read_text()
        if synced_pyproject(text, version) != text:
            found.append(f"{path.relative_to(root)}: not {version} (or its payments-proto pin)")
    for path in package_jsons(root):
        text = path.read_text()
        if json.loads(text).get("version") != version:
            found.append(f"{path.relative_to(root)}: version is not {version}")
    return found


def sync(root: Path = ROOT) -> None:
    version = read_version(root)
    for path in pyprojects(root):
        path.write_text(synced_pyproject(path.read_text(), version))
    for path in package_jsons(root):
        path.write_text(synced_package_json(path.read_text(), version))


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    root = Path(argv[2]) if len(argv) > 2 else ROOT
    if command == "sync":
        sync(root)
        return 0
    if command == "check":
        if found := problems(root):
            print("\n".join(found) + "\nrun `make sync-version` after changing VERSION")
            return 1
        print(f"every package is at {read_version(root)}")
        return 0
    if command == "show":
        print(read_version(root))
        return 0
    raise SystemExit(f"unknown command {command!r}: check, sync or show")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
