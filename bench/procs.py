"""Starts and measures the processes a benchmark compares.

Each server is a real gunicorn with one worker (pushsvc via ``pushsvc serve`` and its
engine's worker, the baseline via gunicorn with gevent-websocket's worker on
``bench.baseline_app``), with its file-descriptor limit raised to the hard limit. Memory
and CPU are read from ``/proc`` of the worker process, the one that holds the connections.
Starting and stopping use the shipped process helpers (``pushsvc.testing.procs``),
the same the tests and the demo use; only the measuring is here.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from pushsvc.testing.procs import (
    LIFTED_CLIENT_LIMITS,
    free_port,
    http_get,
    spawn,
    stop_process,
    wait_until,
)
from pushsvc.testing.procs import start_pushsvc as _start_pushsvc_process

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
WORKER_CLASS = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"


#: Why ``raise_own_limits`` could not lift the hard limit, if it could not.
LIMIT_NOT_RAISED = ""

#: Open files the benchmark wants for itself and its children: a 50k-client server, and
#: load-client shards of 10k each.
WANTED_NOFILE = 131072


def raise_own_limits(wanted: int = WANTED_NOFILE) -> int:
    """Raise this process's file-descriptor limit (soft and hard) for itself and its children.

    As root the hard limit may go up to ``fs.nr_open``; otherwise only the soft one rises, to
    the hard limit. Returns the limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        nr_open = hard
    target = min(wanted, nr_open)
    if hard != resource.RLIM_INFINITY and hard < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
            return target
        except (ValueError, OSError):
            # Even root needs CAP_SYS_RESOURCE for this (containers often drop it).
            global LIMIT_NOT_RAISED
            LIMIT_NOT_RAISED = (f"the hard file-descriptor limit stayed at {hard}: raising it "
                                "needs CAP_SYS_RESOURCE, which this process does not have")
            log.warning("%s", LIMIT_NOT_RAISED)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def ephemeral_ports() -> int:
    """How many local ports one source address can use (net.ipv4.ip_local_port_range)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return 28000
    return high - low + 1


def _raise_nofile() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def max_server_connections() -> int:
    """Connections one server process can hold: its fd limit less a margin for its own files."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 64


class Server:
    """A running gunicorn (master + one worker)."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], port: int, log_path: Path):
        self.name = name
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def worker(self) -> psutil.Process:
        children = psutil.Process(self.proc.pid).children(recursive=True)
        # pushsvc serve may exec gunicorn (pid stays) or spawn it: the worker is the leaf.
        leaves = [c for c in children if not c.children()]
        if not leaves:
            if self.name == "floor":  # one process, no gunicorn master
                return psutil.Process(self.proc.pid)
            raise RuntimeError(f"{self.name}: no gunicorn worker found")
        return leaves[-1]

    def rss(self) -> int:
        return int(self.worker().memory_info().rss)

    def cpu_seconds(self) -> float:
        t = self.worker().cpu_times()
        return float(t.user + t.system)

    def wait_ready(self, timeout: float = 60.0) -> None:
        url = f"{self.url}/socket.io/?EIO=4&transport=polling"

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                                   f"see {self.log_path}")
            got = http_get(url)
            return got is not None and got[0] == 200

        try:
            wait_until(ready, timeout=timeout, what=f"{self.name} ({self.log_path})",
                       interval=0.2)
        except TimeoutError as exc:
            raise TimeoutError(f"{self.name} not ready: {exc}") from exc

    def stop(self) -> None:
        stop_process(self.proc, timeout=15)
        log.info("%s stopped", self.name)


def _spawn(name: str, cmd: list[str], env: dict[str, str], log_dir: Path, port: int) -> Server:
    log_path = log_dir / f"{name}-{port}.log"
    proc = spawn(cmd, log_path=log_path, env=env, cwd=ROOT, preexec_fn=_raise_nofile)
    server = Server(name, proc, port, log_path)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    log.info("%s ready on port %d (pid %d)", name, port, proc.pid)
    return server


def start_baseline(*, log_dir: Path, connections: int, redis_url: str | None = None,
                   name: str = "baseline") -> Server:
    """Plain Flask-SocketIO (bench.baseline_app) under gunicorn, optionally on RedisManager."""
    port = free_port()
    env = dict(os.environ)
    env.pop("BENCH_REDIS_URL", None)
    if redis_url:
        env["BENCH_REDIS_URL"] = redis_url
    cmd = [str(VENV_BIN / "gunicorn"), "-k", WORKER_CLASS, "-w", "1",
           "--worker-connections", str(connections), "--no-control-socket",
           "--log-level", "warning", "-b", f"127.0.0.1:{port}", "bench.baseline_app:app"]
    return _spawn(name, cmd, env, log_dir, port)


def start_floor(*, log_dir: Path) -> Server:
    """The floor (bench.floor_app): bare gevent pywsgi + wsproto, one process."""
    port = free_port()
    cmd = [sys.executable, "-m", "bench.floor_app", "--port", str(port)]
    return _spawn("floor", cmd, dict(os.environ), log_dir, port)


def start_pushsvc(*, log_dir: Path, connections: int, extra_env: dict[str, str] | None = None,
                  name: str = "pushsvc") -> Server:
    """``pushsvc serve`` with its settings in PUSHSVC_* variables."""
    env = {
        "PUSHSVC_WORKER_CONNECTIONS": str(connections),
        "PUSHSVC_MAX_SESSIONS_TOTAL": str(connections),
        "PUSHSVC_LOG_LEVEL": "WARNING",
        "PUSHSVC_BUS": "memory",
        # The benchmark closes its clients before stopping a pod: no drain to wait for.
        "PUSHSVC_SHUTDOWN_GRACE_SECONDS": "2",
        # One load client sends every message of a scenario.
        **LIFTED_CLIENT_LIMITS,
        **(extra_env or {}),
    }
    # pushsvc serve lifts its own file-descriptor limit to fit its worker_connections.
    process = _start_pushsvc_process(env=env, log_dir=log_dir, cwd=ROOT, timeout=60)
    server = Server(name, process.popen, process.port, process.log_path)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    log.info("%s ready on port %d (pid %d)", name, server.port, server.proc.pid)
    return server


def pushsvc_available() -> bool:
    """True once the server helper's ``pushsvc serve`` exists."""
    try:
        import pushsvc.run.cli  # noqa: F401
    except ImportError:
        return False
    return (VENV_BIN / "pushsvc").exists()


__all__ = ["Server", "free_port", "max_server_connections", "pushsvc_available",
           "redis_server", "start_baseline", "start_floor", "start_pushsvc"]


@contextmanager
def redis_server(log_dir: Path) -> Iterator[str]:
    """A throw-away redis-server on a free loopback port, no persistence; yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server not found (Debian package redis-server)")
    port = free_port()
    proc = spawn([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--daemonize", "no"],
                 log_path=log_dir / f"redis-{port}.log")

    def accepting() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    try:
        try:
            wait_until(accepting, timeout=15, what="redis-server")
        except TimeoutError as exc:
            raise RuntimeError(f"redis-server did not start: {exc}") from exc
        log.info("redis-server ready on port %d (pid %d)", port, proc.pid)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(proc, timeout=10)
        log.info("redis-server stopped")


def proc_cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)
