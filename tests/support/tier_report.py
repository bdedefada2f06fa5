"""A pytest plugin for ``tests/docs/test_every_test_has_exactly_one_tier.py``: after collection,
writes ``{nodeid: [tier markers]}`` as JSON to ``$PUSHSVC_TIER_REPORT`` (``-p
tests.support.tier_report``); it does nothing without that variable."""

from __future__ import annotations

import json
import os

import pytest

TIERS = ("unit", "server", "topology", "browser")


def pytest_collection_finish(session: pytest.Session) -> None:
    path = os.environ.get("PUSHSVC_TIER_REPORT")
    if not path:
        return
    report = {item.nodeid: sorted({m.name for m in item.iter_markers() if m.name in TIERS})
              for item in session.items}
    with open(path, "w", encoding="utf-8") as out:
        json.dump(report, out)
