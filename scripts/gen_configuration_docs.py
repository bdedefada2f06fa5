#!/usr/bin/env python3
"""Regenerate the settings table in docs/configuration.md from the Settings model.

The table is ``pushsvc settings --markdown`` (``pushsvc.run.cli.settings_markdown()``), written
between the two marker comments; the text around it is kept. A test
(tests/docs/test_the_configuration_table_is_generated_from_the_settings.py) fails when the file
and the settings disagree, so a new or changed setting shows up there.

    .venv/bin/python scripts/gen_configuration_docs.py          # rewrite the table
    .venv/bin/python scripts/gen_configuration_docs.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DOC = REPO_ROOT / "docs" / "configuration.md"
BEGIN = ("<!-- BEGIN generated settings table: scripts/gen_configuration_docs.py writes it "
         "from pushsvc/settings/; edit the settings, not this table -->")
END = "<!-- END generated settings table -->"


def render(text: str, table: str) -> str:
    """``text`` with the part between the markers replaced by ``table``."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{DOC.name} has no {BEGIN!r} ... {END!r} markers")
    return f"{text[:start]}{BEGIN}\n{table}\n{text[end:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if the table is stale")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    from pushsvc.run.cli import settings_markdown

    text = DOC.read_text()
    wanted = render(text, settings_markdown())
    if wanted == text:
        return 0
    if args.check:
        print(f"{DOC.relative_to(REPO_ROOT)} is stale: run scripts/gen_configuration_docs.py",
              file=sys.stderr)
        return 1
    DOC.write_text(wanted)
    print(f"rewrote the settings table in {DOC.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
