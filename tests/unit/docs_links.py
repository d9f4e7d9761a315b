"""Relative links of the Markdown documentation (README.md and docs/*.md) and the anchors
they may point at, computed the way GitHub renders headings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"`[^`]*`")
# [text](target) and ![alt](target); the text may hold inline code but no nested brackets.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:


def documentation_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks, with their 1-based numbers."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)  # keeps letters, digits, _, - and spaces
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


@dataclass(frozen=True)
class Link:
    source: Path
    line: int
    target: str


def relative_links(path: Path) -> list[Link]:
    links = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        # A link's text may be inline code, but a link inside inline code is not a link.
        masked = _INLINE_CODE.sub(lambda m: "x" * len(m.group(0)), line)
        for match in _LINK.finditer(masked):
            target = line[match.start(1) : match.end(1)]
            if not _EXTERNAL.match(target):
                links.append(Link(path, number, target))
    return links


def broken(link: Link) -> str | None:
    """Why the link points nowhere, or None when its file (and anchor) exist."""
    file_part, _, anchor = link.target.partition("#")
    target = (link.source.parent / file_part).resolve() if file_part else link.source
    if not target.is_relative_to(ROOT):
        return "points outside the repository"
    if not target.exists():
        return f"no file {file_part}"
    if anchor:
        if target.suffix != ".md":
            return "an anchor into a file that is not Markdown"
        if anchor not in anchors(target):
            return f"no heading with anchor #{anchor} in {target.relative_to(ROOT)}"
    return None
