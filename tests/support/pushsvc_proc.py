"""The process helpers for this project's tests: ``pushsvc.testing.procs`` plus the repo root.

The helpers themselves are shipped (``pushsvc.testing.procs``: the topology, the pytest
plugin and bench/ use the same ones); this module only adds what is about this checkout.
``WORKER_CLASS`` is the gunicorn worker ``pushsvc serve`` runs, for tests that start gunicorn
themselves (a user's app, a probe route).
"""

from __future__ import annotations

from pathlib import Path

from pushsvc.run.cli import WORKER_CLASS
from pushsvc.testing.procs import (
    PushsvcProcess,
    PushsvcStartError,
    free_port,
    pushsvc_executable,
    start_pushsvc,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

__all__ = [
    "REPO_ROOT",
    "WORKER_CLASS",
    "PushsvcProcess",
    "PushsvcStartError",
    "free_port",
    "pushsvc_executable",
    "start_pushsvc",
]
