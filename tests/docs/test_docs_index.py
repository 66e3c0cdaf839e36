"""README's documentation index lists every page in docs/, and links between pages resolve."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted((REPO / "docs").glob("*.md"))


def test_readme_lists_every_docs_page() -> None:
    """Each docs/*.md page is linked from the README's Documentation section."""
    readme = REPO / "README.md"
    index = readme.read_text(encoding="utf-8").split("## Documentation", 1)[1]
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)\)", index))
    assert linked == {f"docs/{page.name}" for page in PAGES}


def test_relative_links_resolve() -> None:
    """Every relative link to a file from README.md and docs/*.md points at a file that exists."""
    for page in [REPO / "README.md", *PAGES]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
