"""Helpers for the connection state recovery tests: a Node socket.io-client driven over
stdin/stdout (tests/deploy/recovery_client.js), and a burst of numbered notifications."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from typing import Any

from pushsvc.testing.procs import console_script
from pushsvc.testing.topology import LocalTopology
from tests.support.pushsvc_proc import REPO_ROOT

DRIVER = REPO_ROOT / "tests" / "deploy" / "recovery_client.js"
#: Every pod of a recovery topology (the default window, 120 s).
RECOVERY_ENV = {
    "PUSHSVC_RECOVERY_ENABLED": "true",
    "PUSHSVC_RECOVERY_SECRET": "test-recovery-secret-0123456789",
}


class NodeClient:
    """One recovery_client.js process; ``lines`` is everything it reported, in order."""

    def __init__(self, node: str, url: str, *, transport: str, manual: bool = False,
                 package: str = "socket.io-client") -> None:
        self.proc = subprocess.Popen(
            [node, str(DRIVER), package, url, transport, "manual" if manual else "auto"],
            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(json.loads(line))

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait_for(self, kind: str, *, timeout: float = 30, **fields: Any) -> dict[str, Any]:
        """The next (or an already seen, not yet waited for) line of this kind."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if line["t"] == kind and not line.get("_used") and all(
                        line.get(k) == v for k, v in fields.items()):
                    line["_used"] = True
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind} {fields} from the Node client; saw {self.lines}")
            try:
                self.lines.append(self._queue.get(timeout=left))
            except queue.Empty:
                continue

    def drain(self, *, quiet: float = 0.0) -> None:
        """Take in what the client reported so far (waiting ``quiet`` s for more)."""
        deadline = time.monotonic() + quiet
        while True:
            try:
                self.lines.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                return

    def messages(self, prefix: str) -> list[dict[str, Any]]:
        return [m for m in self.lines if m["t"] == "msg" and str(m.get("data", "")).startswith(
            prefix)]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("close")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)


def notify_numbered(topology: LocalTopology, prefix: str, count: int,
                    room: str | None = None) -> list[str]:
    """``count`` notifications "<prefix> #i" to everyone (or ``room``), from one
    pushsvc-notify --stdin."""
    texts = [f"{prefix} #{i}" for i in range(1, count + 1)]
    lines = "".join(json.dumps({"event": "nuke_response", "data": {"data": t}, "to": room})
                    + "\n" for t in texts)
    done = subprocess.run([console_script("pushsvc-notify"), "--stdin"], input=lines.encode(),
                          env=topology.notifier_env(), capture_output=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()
    return texts
