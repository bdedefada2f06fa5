"""Fixtures for the Admin UI tests: a pushsvc with the Admin UI on, and an artifacts folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import PushsvcProcess, start_pushsvc
from tests.support.pushsvc_proc import REPO_ROOT

ARTIFACTS = REPO_ROOT / "artifacts" / "admin"
#: Test credentials only; never a real secret.
ADMIN_ENV = {
    "PUSHSVC_ADMIN_UI": "true",
    "PUSHSVC_ADMIN_UI_USERNAME": "ops",
    "PUSHSVC_ADMIN_UI_PASSWORD": "correct horse battery staple",
    "PUSHSVC_PING_INTERVAL_SECONDS": "3",
}


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    path = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120]
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushsvcProcess]:
    """pushsvc with the Admin UI on (read-only, development mode), in-memory bus."""
    with start_pushsvc(env=ADMIN_ENV, log_dir=tmp_path_factory.mktemp("logs")) as proc:
        yield proc


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushsvcProcess]:
    """pushsvc with default settings: the Admin UI off."""
    with start_pushsvc(log_dir=tmp_path_factory.mktemp("logs")) as proc:
        yield proc
