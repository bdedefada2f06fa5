"""The process helpers for this project's tests: ``pushsvc.testing.procs`` plus the repo root.

The helpers themselves are shipped (``pushsvc.testing.procs``: the topology, the pytest
plugin and bench/ use the same ones); this module only adds what is about this checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from pushsvc.settings import Settings
from pushsvc.testing.procs import (
    PushsvcProcess,
    PushsvcStartError,
    free_port,
    pushsvc_executable,
    start_pushsvc,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def engine_under_test() -> str:
    """The Engine.IO server ``pushsvc serve`` children run: ``PUSHSVC_TEST_ENGINE`` or the default.

    For the few tests that pin what differs between the two engines (a worker class, the order
    of a connect handler's emits); every other test states behaviour both must have.
    """
    return os.environ.get("PUSHSVC_TEST_ENGINE") or str(Settings.model_fields["engine"].default)


def worker_class_under_test() -> str:
    """The gunicorn worker ``pushsvc serve`` runs for the engine under test, for tests that
    start gunicorn themselves (a user's app, a probe route)."""
    from pushsvc.run.cli import WORKER_CLASS

    return Settings(engine=engine_under_test()).engine_worker_class or WORKER_CLASS

__all__ = [
    "REPO_ROOT",
    "engine_under_test",
    "worker_class_under_test",
    "PushsvcProcess",
    "PushsvcStartError",
    "free_port",
    "pushsvc_executable",
    "start_pushsvc",
]
