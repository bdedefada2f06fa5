"""Run the real ``pushsvc serve`` as a subprocess on a free loopback port.

Tests across folders start pushsvc processes side by side (several pods against
one Kubernetes API emulator, haproxy in front, ...). This module is the one place
that knows how: which executable, how the environment is built, how to wait for
/healthz and how to stop the process (SIGTERM first, then SIGKILL to its process
group, which holds only the gunicorn master and its worker).

The child's environment is the test process's environment minus every ``PUSHSVC_*``
variable (so a developer's shell cannot change a test), plus ``PUSHSVC_HOST``,
``PUSHSVC_PORT``, ``PUSHSVC_BUS=memory`` and ``PUSHSVC_LOG_LEVEL=INFO`` as
defaults, plus ``env`` from the caller, which wins over everything.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[2]
_START_TIMEOUT_S = 30.0
_PORT_RETRIES = 3


class PushsvcStartError(RuntimeError):
    """pushsvc did not answer /healthz in time or exited during start-up."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def pushsvc_executable() -> Path:
    """The ``pushsvc`` console script of the interpreter running the tests (the repo's .venv)."""
    candidate = Path(sys.executable).parent / "pushsvc"
    if candidate.exists():
        return candidate
    return REPO_ROOT / ".venv" / "bin" / "pushsvc"


class PushsvcProcess:
    """A running ``pushsvc serve``; stop it with ``stop()`` or use it as a context manager."""

    def __init__(
        self, *, popen: subprocess.Popen[bytes], host: str, port: int, log_path: Path
    ) -> None:
        self.popen = popen
        self.host = host
        self.port = port
        self.log_path = log_path
        self.url = f"http://{host}:{port}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def read_log(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def is_running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` to the gunicorn master, wait up to ``timeout`` s, then SIGKILL its group.

        Returns the master's return code (negative for death by signal).
        """
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # The group was created by us (start_new_session) and holds only master + worker.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        if self.popen.poll() is None:
            self.popen.wait(timeout=10)
        return int(self.popen.returncode)

    def __enter__(self) -> PushsvcProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PushsvcProcess(url={self.url!r}, pid={self.pid})"


def _child_env(host: str, port: int, env: dict[str, str] | None) -> dict[str, str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}
    child.update(
        {
            "PUSHSVC_HOST": host,
            "PUSHSVC_PORT": str(port),
            "PUSHSVC_BUS": "memory",
            "PUSHSVC_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    child.update(env or {})
    return child


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _start_once(
    *, env: dict[str, str] | None, port: int, host: str, log_dir: Path, timeout: float
) -> PushsvcProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"pushsvc-{host}-{port}.log"
    with open(log_path, "wb") as log_file:
        popen = subprocess.Popen(
            [str(pushsvc_executable()), "serve"],
            cwd=REPO_ROOT,
            env=_child_env(host, port, env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc = PushsvcProcess(popen=popen, host=host, port=port, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise PushsvcStartError(
                f"pushsvc exited with {popen.returncode} during start-up; log {log_path}:\n"
                + proc.read_log()[-4000:]
            )
        if _healthy(proc.url):
            return proc
        time.sleep(0.1)
    proc.stop(timeout=5)
    raise PushsvcStartError(
        f"pushsvc did not answer {proc.url}/healthz within {timeout:.0f} s; log {log_path}:\n"
        + proc.read_log()[-4000:]
    )


def start_pushsvc(
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
    host: str = "127.0.0.1",
    log_dir: Path,
    timeout: float = _START_TIMEOUT_S,
) -> PushsvcProcess:
    """Start ``pushsvc serve`` and return once /healthz answers 200.

    :param env: extra environment (``PUSHSVC_*`` settings and anything else); wins over defaults.
    :param port: port to bind; default a free one (retried on a lost race for it).
    :param host: loopback address to bind.
    :param log_dir: folder for the process's combined stdout/stderr log.
    :param timeout: seconds to wait for /healthz.
    """
    attempts = 1 if port is not None else _PORT_RETRIES
    last_error: PushsvcStartError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else free_port(host)
        try:
            return _start_once(env=env, port=chosen, host=host, log_dir=log_dir, timeout=timeout)
        except PushsvcStartError as exc:
            last_error = exc
            if "Address already in use" not in str(exc):
                raise
    assert last_error is not None
    raise last_error
