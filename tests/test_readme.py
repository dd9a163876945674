"""The README shows and the details live in docs/: it stays short, keeps the markers its generated
parts are written between, and no link in it or in docs/*.md leads nowhere.

Links are checked strictly: a page the README lists must exist in the repo (docs/plots.md,
docs/stabilisers.md and docs/team.md come from other branches; merge them before this one).
"""

import re
from pathlib import Path

import pytest

from ganlab import pictures, results

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_LINES = 250  # issue #23: a README that shows, about 200 lines; the details go to docs/
PICTURES = (pictures.BEGIN, pictures.END)
SWEEP_NOTES = "<!-- sweep-notes -->"

FENCE = re.compile(r"```.*?```", re.S)  # code blocks: their `# comments` are not headings
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)  # code blocks and inline code: brackets there are not links
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target) and ![alt](target "title")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*$", re.M)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", page.read_text()))}


def links(page: Path) -> list[str]:
    """Relative link targets of a Markdown page (web addresses and mail left out)."""
    found = LINK.findall(CODE.sub("", page.read_text()))
    return [t for t in found if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_readme_is_short():
    n = len(README.read_text().splitlines())
    assert n <= MAX_LINES, f"README.md has {n} lines, more than {MAX_LINES}: move details to a page under docs/"


@pytest.mark.parametrize("begin, end", [(results.BEGIN, results.END), PICTURES], ids=["results", "pictures"])
def test_readme_keeps_generated_markers(begin, end):
    text = README.read_text()
    assert text.count(begin) == 1 and text.count(end) == 1, f"README.md must hold {begin} ... {end} once each"
    assert text.index(begin) < text.index(end)


def test_sweep_notes_follow_results_table():
    text = README.read_text()
    assert SWEEP_NOTES in text and text.index(results.END) < text.index(SWEEP_NOTES)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page):
    broken = []
    for target in links(page):
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target}: no heading with anchor #{fragment} in {dest.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)} has broken links:\n" + "\n".join(broken)


def test_readme_lists_every_docs_page():
    listed = {(README.parent / t.partition("#")[0]).resolve() for t in links(README)}
    missing = [p.relative_to(ROOT) for p in PAGES[1:] if p.resolve() not in listed]
    assert not missing, f"README.md's Documentation list misses {missing}"


def test_link_checker_sees_a_broken_link(tmp_path):
    """The checker itself: a missing file, a missing anchor and a link inside code."""
    (tmp_path / "a.md").write_text("# Top\n\n[ok](a.md#top) [gone](b.md) [bad](a.md#nowhere) `[code](c.md)`\n```\n# not a heading\n```\n")
    assert links(tmp_path / "a.md") == ["a.md#top", "b.md", "a.md#nowhere"]
    assert anchors(tmp_path / "a.md") == {"top"}
    assert slug("The `ganlab` command") == "the-ganlab-command" and slug("Do they see collapse?") == "do-they-see-collapse"
