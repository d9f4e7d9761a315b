"""One version: VERSION, and every package built from the contract at it (tools/version.py).
A drifted package fails `make check-version`, this test, and so CI."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def version_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("version_tool", ROOT / "tools" / "version.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_of_the_packages(to: Path) -> None:
    shutil.copy(ROOT / "VERSION", to / "VERSION")
    for path in [ROOT / "generated" / "pyproject.toml", *ROOT.glob("clients/*/pyproject.toml")]:
        target = to / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)


def test_every_package_is_at_the_contracts_version() -> None:
    tool = version_tool()
    assert tool.problems(ROOT) == []
    version = tool.read_version(ROOT)
    assert f'version = "{version}"' in (ROOT / "generated" / "pyproject.toml").read_text()
    client = (ROOT / "clients" / "python" / "pyproject.toml").read_text()
    assert f'version = "{version}"' in client
    assert f'"payments-proto>={version},<{int(version.split(".")[0]) + 1}"' in client


def test_a_drifted_package_is_caught_and_sync_mends_it(tmp_path: Path) -> None:
    tool = version_tool()
    copy_of_the_packages(tmp_path)
    (tmp_path / "VERSION").write_text("1.4.2\n")
    python_packages = 1 + len(list(ROOT.glob("clients/*/pyproject.toml")))  # generated/ too
    assert len(tool.problems(tmp_path)) == python_packages
    npm = tmp_path / "clients" / "typescript" / "package.json"
    npm.parent.mkdir(parents=True, exist_ok=True)
    npm.write_text('{\n  "name": "@payments/client",\n  "version": "0.0.1"\n}\n')
    assert "clients/typescript/package.json: version is not 1.4.2" in tool.problems(tmp_path)
    tool.sync(tmp_path)
    assert tool.problems(tmp_path) == []
    client = (tmp_path / "clients" / "python" / "pyproject.toml").read_text()
    assert 'name = "payments-client"' in client and '"payments-proto>=1.4.2,<2"' in client
    assert 'name = "payments-proto"' in (tmp_path / "generated" / "pyproject.toml").read_text()
    assert '"version": "1.4.2"' in npm.read_text()


def test_the_asyncapi_document_carries_the_contracts_version() -> None:
    document = json.loads((ROOT / "generated" / "asyncapi.json").read_text())
    assert document["info"]["version"] == version_tool().read_version(ROOT)
