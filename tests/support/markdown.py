"""Reading the project's Markdown in tests: fenced code blocks, links, and heading anchors as
GitHub renders them."""

from __future__ import annotations

import re
from pathlib import Path

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def code_blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of ``language`` (```python ... ```), in order."""
    return [body for lang, body in _FENCE.findall(text) if lang == language]


def prose(text: str) -> str:
    """``text`` without fenced blocks and inline code, where a link is only text."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def link_targets(text: str) -> list[str]:
    """Every Markdown link's (and image's) target outside code, in order."""
    return _LINK.findall(prose(text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to -."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of every heading in the Markdown file ``path`` (repeats get -1, -2, ...)."""
    seen: dict[str, int] = {}
    result = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result
