"""A client that stops answering without a disconnect (SIGSTOP: no close, no pong) leaves the
room when its Engine.IO session times out, and then drops out of presence on every pod."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.bus.cluster import Cluster
from tests.presence.conftest import Connect, users, wait_for_answer
from tests.support.pushsvc_proc import REPO_ROOT
from tests.support.tokens import Tokens


def test_a_frozen_clients_membership_ends_at_its_ping_timeout(
        presence_cluster: Cluster, presence_client: Connect, tokens: Tokens) -> None:
    presence_client(0, "erin", rooms=("team-frozen",))
    watcher = presence_client(1, "watcher", presence=["team-*"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.presence.frozen_client", presence_cluster.pods[2].url,
         "team-frozen"], cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(tokens.mint("frank", pushsvc={"rooms": ["team-*"]}) + "\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "joined"
        answer = wait_for_answer(watcher, "team-frozen", lambda a: a["count"] == 2)
        assert users(answer) == [("erin", "pushsvc-0"), ("frank", "pushsvc-2")]

        proc.send_signal(signal.SIGSTOP)
        answer = wait_for_answer(watcher, "team-frozen", lambda a: a["count"] == 1)
        assert users(answer) == [("erin", "pushsvc-0")]
    finally:
        proc.kill()
        proc.wait(timeout=10)
