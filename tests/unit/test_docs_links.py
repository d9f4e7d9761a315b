"""Every relative link of README.md and docs/*.md points at a file that exists and, when it
names an anchor, at a heading of that file (as GitHub renders it)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.docs_links import (
    ROOT,
    Link,
    anchors,
    broken,
    documentation_files,
    relative_links,
    slug,
)


def test_slugs_follow_github() -> None:
    assert slug("Workers: one process per core") == "workers-one-process-per-core"
    assert slug("Settlement in the merchant's currency") == "settlement-in-the-merchants-currency"
    assert slug("Python (`clients/python`, import `payments_client`)") == (
        "python-clientspython-import-payments_client"
    )
    assert slug("3-D Secure") == "3-d-secure"


def test_every_relative_link_points_at_an_existing_file_and_anchor() -> None:
    problems = []
    for path in documentation_files():
        for link in relative_links(path):
            reason = broken(link)
            if reason:
                problems.append(f"{path.relative_to(ROOT)}:{link.line} ({link.target}): {reason}")
    assert not problems, "\n".join(problems)


def test_the_checker_finds_broken_links() -> None:
    # The check above must be able to fail: a missing file and a missing anchor are caught.
    page = ROOT / "docs" / "api.md"
    targets = ("no-such-file.md", "api.md#no-such-heading", "../README.md#two-commands")
    assert [broken(Link(page, 1, target)) is None for target in targets] == [False, False, True]


def test_readme_links_to_every_document() -> None:
    linked = {link.target.partition("#")[0] for link in relative_links(ROOT / "README.md")}
    missing = [
        f"docs/{path.name}"
        for path in sorted((ROOT / "docs").glob("*.md"))
        if f"docs/{path.name}" not in linked
    ]
    assert not missing, f"README.md does not link to {missing}"


def test_anchors_of_repeated_headings_are_numbered(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A\n\n## Setup\n\n```\n# not a heading\n```\n\n## Setup\n")
    assert anchors(page) == {"a", "setup", "setup-1"}
