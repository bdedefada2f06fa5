"""docs/configuration.md holds ``pushsvc settings --markdown`` between two markers, written by
scripts/gen_configuration_docs.py: a setting added, removed or redescribed without running it
fails here, so the reference never drifts from the code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pushsvc.cli import settings_markdown
from pushsvc.settings import settings_docs
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
    rows = settings_markdown().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == [doc.env for doc in settings_docs()]
    assert all(doc.description for doc in settings_docs())


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
