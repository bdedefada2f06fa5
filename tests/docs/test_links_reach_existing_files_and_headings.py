"""Every relative link in README.md and docs/*.md reaches a file that exists and, with an
``#anchor``, a heading of that file; every ``docs/<file>.md`` named in the code's docstrings
and comments exists. The reference moved out of the README into docs/, so a heading renamed
or a file split must not leave dangling pointers behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.markdown import anchors, link_targets, slug
from tests.support.pushsvc_proc import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", REPO_ROOT / "CHANGELOG.md",
         *sorted((REPO_ROOT / "docs").glob("*.md"))]
_EXTERNAL = ("http://", "https://", "mailto:")
_DOC_MENTION = re.compile(r"\bdocs/([\w-]+\.md)(?:#([\w-]+))?")


def _broken(page: Path, target: str) -> str | None:
    path_part, _, anchor = target.partition("#")
    path = (page.parent / path_part).resolve() if path_part else page
    if not path.exists():
        return f"{target}: no such file"
    if anchor and path.suffix == ".md" and anchor not in anchors(path):
        return f"{target}: no heading with the anchor #{anchor} in {path.name}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_reaches_a_file_and_heading(page):
    targets = [t for t in link_targets(page.read_text()) if not t.startswith(_EXTERNAL)]
    assert [problem for t in targets if (problem := _broken(page, t))] == []


def test_the_readme_links_every_docs_page():
    linked = {t.partition("#")[0] for t in link_targets((REPO_ROOT / "README.md").read_text())}
    pages = {f"docs/{p.name}" for p in (REPO_ROOT / "docs").glob("*.md")}
    assert pages - linked == set()


def test_docs_named_in_the_code_exist():
    problems = []
    for folder in ("pushsvc", "emitter", "bench", "tests", "scripts"):
        for source in sorted((REPO_ROOT / folder).rglob("*.py")):
            for name, anchor in _DOC_MENTION.findall(source.read_text()):
                doc = REPO_ROOT / "docs" / name
                if not doc.exists() or (anchor and anchor not in anchors(doc)):
                    problems.append(f"{source.relative_to(REPO_ROOT)}: docs/{name}#{anchor}")
    assert problems == []


def test_anchors_are_the_ones_github_makes():
    assert slug("Why stickiness is built this way") == "why-stickiness-is-built-this-way"
    assert slug("Notifying from a Job: `emitter` and `pushsvc-notify`") == (
        "notifying-from-a-job-emitter-and-pushsvc-notify")
    assert slug("The Kubernetes API emulator") == "the-kubernetes-api-emulator"
