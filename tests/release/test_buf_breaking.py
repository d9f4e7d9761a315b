"""`make buf-breaking` compares the contract with the last released one (the image committed
under release/), and it does catch a break: a copy of the protos with a field removed, or a
field renumbered, fails against that image; the unmodified copy passes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "tools" / "node_modules" / ".bin" / "buf"
PAYMENT_PROTO = Path("protos/payments/v1/payment.proto")

pytestmark = pytest.mark.skipif(
    not BUF.exists(), reason="the buf CLI is not installed: run `make tools` (make test does)"
)


def released_image() -> Path:
    """The newest release image, as the Makefile picks it (version order, not text order)."""
    images = list((ROOT / "release").glob("v*.binpb"))
    assert images, "no release image under release/"
    return max(images, key=lambda p: tuple(int(n) for n in p.stem[1:].split(".")))


def workspace_copy(to: Path) -> Path:
    shutil.copy(ROOT / "buf.yaml", to / "buf.yaml")
    shutil.copytree(ROOT / "protos", to / "protos")
    shutil.copytree(ROOT / "third_party", to / "third_party")
    return to


def buf_breaking(workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUF), "breaking", "protos", "--against", str(released_image())],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def edit(workspace: Path, pattern: str, replacement: str) -> None:
    path = workspace / PAYMENT_PROTO
    text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} not in {PAYMENT_PROTO}"
    path.write_text(text)


def test_the_current_contract_does_not_break_the_release(tmp_path: Path) -> None:
    result = buf_breaking(workspace_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_removing_a_field_breaks_the_release(tmp_path: Path) -> None:
    workspace = workspace_copy(tmp_path)
    edit(workspace, r"^\s*string order_id = 2;\n", "")
    result = buf_breaking(workspace)
    assert result.returncode != 0
    assert 'name "order_id" on message "Payment" was deleted' in result.stdout, result.stdout


def test_renumbering_a_field_breaks_the_release(tmp_path: Path) -> None:
    workspace = workspace_copy(tmp_path)
    edit(workspace, r"^(\s*string order_id = )2;", r"\g<1>999;")
    result = buf_breaking(workspace)
    assert result.returncode != 0
    assert 'field "2" with name "order_id"' in result.stdout, result.stdout + result.stderr
