"""Checks that every relative link and image in the project's Markdown (README.md, loadtest/README.md,
docs/) points at a file that exists and, with a #fragment, at a heading that exists there
(GitHub's anchors). `make lint` runs it; tools/test_doc_links.py tests it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def markdown_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """The documents a reader of the repository follows links in."""
    return sorted(
        [root / "README.md", root / "loadtest" / "README.md", *(root / "docs").rglob("*.md")]
    )


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of a Markdown file's headings (a repeated one gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        match = None if in_code else HEADING.match(line)
        if match:
            anchor = github_anchor(match.group(2))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link and image outside code blocks and code spans."""
    out = []
    in_code = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        line = re.sub(r"`[^`]*`", "``", line)
        out += [(number, match.group(1)) for match in LINK.finditer(line)]
    return out


def broken_links(files: list[Path]) -> list[str]:
    """One line per link that does not resolve: file:line: target (why)."""
    problems = []
    for path in files:
        for number, target in links(path):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
                continue
            file_part, _, fragment = target.partition("#")
            destination = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(PROJECT_ROOT)}:{number}: {target}"
            if not destination.exists():
                problems.append(f"{where} (no such file)")
            elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
                problems.append(
                    f"{where} (no heading #{fragment} in {destination.relative_to(PROJECT_ROOT)})"
                )
    return problems


def main() -> int:
    problems = broken_links(markdown_files())
    for line in problems:
        print(line)
    print(f"{len(markdown_files())} Markdown files: {len(problems)} broken link(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
