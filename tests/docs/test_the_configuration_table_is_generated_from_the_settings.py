"""docs/configuration.md holds ``pushsvc settings --markdown`` between two markers, written by
scripts/gen_configuration_docs.py: a setting added, removed or redescribed without running it
fails here, so the reference never drifts from the code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pushsvc.run.cli import settings_markdown
from pushsvc.settings import (
    REMOVED_SETTINGS,
    RETIRED_SETTINGS,
    SECTIONS,
    Settings,
    settings_docs,
)
from tests.support.pushsvc_proc import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "gen_configuration_docs.py"
DOC = REPO_ROOT / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN generated settings table"
END = "<!-- END generated settings table -->"


def generated_part(text: str) -> str:
    start = text.index(BEGIN)
    return text[text.index("\n", start) + 1:text.index(END)].strip()


def test_the_table_in_docs_configuration_is_the_generated_one():
    assert generated_part(DOC.read_text()) == settings_markdown(), (
        "docs/configuration.md is stale: run .venv/bin/python scripts/gen_configuration_docs.py")


def test_every_setting_has_a_row_and_a_description():
    text = settings_markdown()
    rows = [line for line in text[:text.index("## Removed settings")].splitlines()
            if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [doc.env for doc in settings_docs()]
    assert all(doc.description for doc in settings_docs())
    removed = [line.split("`")[1] for line in text[text.index("## Removed settings"):].splitlines()
               if line.startswith("| `")]
    assert sorted(removed) == sorted({*REMOVED_SETTINGS, *RETIRED_SETTINGS})


def test_the_settings_are_listed_section_by_section_under_a_heading():
    headings = [line[3:] for line in settings_markdown().splitlines() if line.startswith("## ")]
    assert headings == [*(section.title for section in SECTIONS), "Removed settings"]
    assert all(section.title and section.__doc__ for section in SECTIONS)
    assert [doc.section for doc in settings_docs()] == [
        section.title for section in SECTIONS for _ in section.model_fields]
    assert sum(len(section.model_fields) for section in SECTIONS) == len(Settings.model_fields)


@pytest.mark.server
def test_the_script_checks_and_rewrites_only_the_table(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import gen_configuration_docs as gen
    finally:
        sys.path.remove(str(SCRIPT.parent))
    stale = f"# Title\n\nbefore\n\n{gen.BEGIN}\n| old | table |\n{gen.END}\n\nafter\n"
    assert gen.render(stale, "| new |") == (
        f"# Title\n\nbefore\n\n{gen.BEGIN}\n| new |\n{gen.END}\n\nafter\n")
