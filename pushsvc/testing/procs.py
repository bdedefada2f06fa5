"""Run real processes on loopback: the one set of helpers the topology, the tests and bench/ use.

Tests, the demo and the benchmarks all start ``pushsvc serve`` processes side by side
(several pods against one Kubernetes API emulator, HAProxy in front, ...). This module is
the one place that knows how: which executable, how the environment is built, how to wait
for ``/healthz`` and how to stop a process (SIGTERM first, then SIGKILL to its process
group, which every process started here has to itself, so a gunicorn worker never
outlives its master).

The child's environment is this process's environment minus every ``PUSHSVC_*`` variable
(so a developer's shell cannot change a test), plus ``PUSHSVC_HOST``, ``PUSHSVC_PORT``,
``PUSHSVC_BUS=memory`` and ``PUSHSVC_LOG_LEVEL=INFO`` as defaults, plus ``env`` from the
caller, which wins over everything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 30.0
_PORT_RETRIES = 3

#: Settings that lift the per-client and per-pod rate limits, for a load test whose one client
#: stands for many (the figure measured is then the server's, not a limit's). Never in a pod.
LIFTED_CLIENT_LIMITS: dict[str, str] = {
    "PUSHSVC_CLIENT_EVENTS_PER_SECOND": "1000000",
    "PUSHSVC_CLIENT_EVENTS_BURST": "1000000",
    # The bursts follow the rates (5 s of each; the byte buckets hold 2 and 8 of the
    # largest messages and refill at once at these rates).
    **{f"PUSHSVC_PUBLISH_{scope}_{name}": value
       for scope in ("CLIENT", "POD")
       for name, value in (("MESSAGES_PER_SECOND", "1000000"),
                           ("BYTES_PER_SECOND", "1000000000"))},
    # Engine.IO sessions and handshakes per address: a load client's few loopback addresses
    # stand for thousands of clients each.
    "PUSHSVC_MAX_SESSIONS_PER_ADDRESS": "1000000",
    "PUSHSVC_HANDSHAKES_PER_SECOND_PER_ADDRESS": "1000000",
}


class PushsvcStartError(RuntimeError):
    """pushsvc did not answer /healthz in time or exited during start-up."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any],
    *,
    timeout: float,
    what: str = "condition",
    interval: float = 0.1,
) -> Any:
    """Poll ``predicate`` until it returns something truthy and return that.

    :raises TimeoutError: after ``timeout`` seconds, naming ``what`` was awaited.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str] | None:
    """``(status, body)`` of a GET, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), ""
    except (urllib.error.URLError, OSError):
        return None


def console_script(name: str) -> str:
    """A console script of this interpreter's environment, else the one on PATH.

    ``sys.executable``'s folder comes first so that a virtualenv's ``pushsvc`` is used even
    when the virtualenv is not activated.
    """
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name) or name


def pushsvc_executable() -> Path:
    """The ``pushsvc`` console script to run (see :func:`console_script`)."""
    return Path(console_script("pushsvc"))


def spawn(
    cmd: Sequence[str],
    *,
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in a process group of its own, stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )


def stop_process(
    popen: subprocess.Popen[Any], *, sig: int = signal.SIGTERM, timeout: float = 30.0
) -> int:
    """Send ``sig``, wait up to ``timeout`` s, then SIGKILL the process group.

    Only for processes started with a group of their own (:func:`spawn` does): the group
    then holds only that process and its children. Returns the return code (negative for
    death by signal). Safe to call twice.
    """
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            popen.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=timeout)
    # Even after a clean exit of the leader, a child (a gunicorn worker) may linger.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    if popen.poll() is None:
        popen.wait(timeout=10)
    return int(popen.returncode)


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
        return stop_process(self.popen, sig=sig, timeout=timeout)

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


def pushsvc_env(host: str, port: int, env: dict[str, str] | None) -> dict[str, str]:
    """The environment of a ``pushsvc serve`` child (see the module docstring)."""
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
    got = http_get(f"{url}/healthz")
    return got is not None and got[0] == 200


def _start_once(
    *,
    env: dict[str, str] | None,
    port: int,
    host: str,
    log_dir: Path,
    timeout: float,
    cwd: Path | None,
) -> PushsvcProcess:
    log_path = log_dir / f"pushsvc-{host}-{port}.log"
    popen = spawn(
        [str(pushsvc_executable()), "serve"],
        log_path=log_path,
        env=pushsvc_env(host, port, env),
        cwd=cwd,
    )
    proc = PushsvcProcess(popen=popen, host=host, port=port, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            proc.stop(timeout=5)
            raise PushsvcStartError(
                f"pushsvc exited with {popen.returncode} during start-up; log {log_path}:\n"
                + proc.read_log()[-4000:]
            )
        if _healthy(proc.url):
            logger.debug("pushsvc ready at %s (pid %d)", proc.url, proc.pid)
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
    cwd: Path | None = None,
) -> PushsvcProcess:
    """Start ``pushsvc serve`` and return once /healthz answers 200.

    :param env: extra environment (``PUSHSVC_*`` settings and anything else); wins over defaults.
    :param port: port to bind; default a free one (retried on a lost race for it).
    :param host: loopback address to bind.
    :param log_dir: folder for the process's combined stdout/stderr log.
    :param timeout: seconds to wait for /healthz.
    :param cwd: the process's working directory (default: this process's).
    """
    attempts = 1 if port is not None else _PORT_RETRIES
    last_error: PushsvcStartError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else free_port(host)
        try:
            return _start_once(
                env=env, port=chosen, host=host, log_dir=log_dir, timeout=timeout, cwd=cwd
            )
        except PushsvcStartError as exc:
            last_error = exc
            if "Address already in use" not in str(exc):
                raise
    assert last_error is not None
    raise last_error


__all__ = [
    "LIFTED_CLIENT_LIMITS",
    "PushsvcProcess",
    "PushsvcStartError",
    "console_script",
    "free_port",
    "http_get",
    "pushsvc_env",
    "pushsvc_executable",
    "spawn",
    "start_pushsvc",
    "stop_process",
    "wait_until",
]
