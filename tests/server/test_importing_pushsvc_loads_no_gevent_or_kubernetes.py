"""Importing ``pushsvc`` or its CLI (the gunicorn master) loads neither gevent's patch targets'
users (Flask-SocketIO, urllib3, kubernetes) nor gevent: the worker must patch first."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ["gevent", "flask_socketio", "socketio", "engineio", "kubernetes", "urllib3"]


@pytest.mark.parametrize(
    "module", ["pushsvc", "pushsvc.run.cli", "pushsvc.settings", "pushsvc.metrics"]
)
def test_the_module_imports_without_the_async_stack(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == ""
