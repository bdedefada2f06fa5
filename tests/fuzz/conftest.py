"""Fixtures for the fuzz suite: one real server, a bystander client, hypothesis profiles.

The suite is bounded for CI (profile ``ci``, the default here: a few hundred examples and
no per-example deadline). A longer run: ``pytest tests/fuzz --hypothesis-profile=long``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, settings

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc
from tests.support.pushsvc_proc import REPO_ROOT

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    "database": None,
}
settings.register_profile("ci", max_examples=100, **_COMMON)
settings.register_profile("long", max_examples=5000, **_COMMON)
settings.load_profile("ci")

ARTIFACTS = REPO_ROOT / "artifacts" / "fuzz"


class Target:
    """The server under fuzz, its worker process and a client that must keep working."""

    def __init__(self, proc: PushsvcProcess, bystander: RecordingClient) -> None:
        self.proc = proc
        self.bystander = bystander
        self.worker = _worker(proc)
        self.baseline_rss = self.worker.memory_info().rss
        self._probe = 0

    def check(self) -> None:
        """The server has not crashed and still serves the bystander."""
        assert self.proc.is_running(), "pushsvc exited:\n" + self.proc.read_log()[-3000:]
        assert _worker(self.proc).pid == self.worker.pid, "the worker was restarted (crashed)"
        self._probe += 1
        word = f"probe-{self._probe}"
        self.bystander.emit("my_event", {"data": word})
        self.bystander.wait_for_reply(word)

    def rss_growth_mib(self) -> float:
        return (self.worker.memory_info().rss - self.baseline_rss) / 2**20


def _worker(proc: PushsvcProcess) -> psutil.Process:
    children = psutil.Process(proc.pid).children()
    assert len(children) == 1, f"expected one gunicorn worker, found {children}"
    return children[0]


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    logs = ARTIFACTS / Path(str(request.node.name)).stem
    env = {"PUSHSVC_PING_INTERVAL_SECONDS": "5", "PUSHSVC_PING_TIMEOUT_SECONDS": "5",
           "PUSHSVC_SHUTDOWN_GRACE_SECONDS": "3"}
    with start_pushsvc(env=env, log_dir=logs) as proc:
        bystander = RecordingClient(transports=["websocket"])
        bystander.connect(proc.url)
        try:
            yield Target(proc, bystander)
        finally:
            bystander.close()
