"""The link check finds a missing file, a missing heading and a missing image, and the project's
documents have none."""

from pathlib import Path

from tools.doc_links import PROJECT_ROOT, anchors, broken_links, github_anchor, markdown_files


def test_anchors_follow_github():
    assert github_anchor("Against a running deployment: `--target URL`") == (
        "against-a-running-deployment---target-url"
    )
    assert github_anchor("Noise: what to expect, what to do") == "noise-what-to-expect-what-to-do"
    assert github_anchor("`bench`'s options") == "benchs-options"


def test_repeated_headings_are_numbered(tmp_path: Path):
    page = tmp_path / "a.md"
    page.write_text("# Title\n## Notes\n```\n## not a heading\n```\n## Notes\n")
    assert anchors(page) == {"title", "notes", "notes-1"}


def test_broken_links_are_named(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("tools.doc_links.PROJECT_ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# B\n## Here\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/b.md#here) [web](https://example.com/x) ![img](docs/chart.svg)\n"
        "[gone](docs/c.md) [no anchor](docs/b.md#there) [self](#b-section) `[code](nowhere.md)`\n"
    )
    problems = broken_links([page])
    assert problems == [
        "README.md:1: docs/chart.svg (no such file)",
        "README.md:2: docs/c.md (no such file)",
        "README.md:2: docs/b.md#there (no heading #there in docs/b.md)",
        "README.md:2: #b-section (no heading #b-section in README.md)",
    ]


def test_the_projects_documents_have_no_broken_link():
    files = markdown_files(PROJECT_ROOT)
    assert PROJECT_ROOT / "README.md" in files and len(files) > 3
    assert broken_links(files) == []
