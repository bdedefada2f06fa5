"""``pushsvc serve example_app:app`` serves a user's Flask app (tests/server/example_app.py,
which calls ``pushsvc.init_app``) the way ``pushsvc serve`` serves pushsvc's own: the worker
runs with PUSHSVC_WORKER_CONNECTIONS and a graceful timeout within the drain grace, the
file-descriptor limit is raised to fit, pushsvc's INFO lines appear, gunicorn's lines share
pushsvc's one format, and SIGTERM drains. ``PUSHSVC_LOG_FORMAT=json`` writes one JSON object
per line (time, level, logger, message, pod) with no token and no payload in it.

A plain ``gunicorn example_app:app`` (the docs' old command) kept gunicorn's 1000 connections
and 30 s graceful timeout, lost pushsvc's INFO lines and mixed two formats.
"""

from __future__ import annotations

import json
import re
import resource
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import psutil

from pushsvc.testing.procs import (
    free_port,
    http_get,
    pushsvc_env,
    pushsvc_executable,
    spawn,
    stop_process,
)
from tests.support import RecordingClient, wait_until
from tests.support.pushsvc_proc import REPO_ROOT

APP_DIR = REPO_ROOT / "tests" / "server"  # the user's project folder: example_app.py
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (DEBUG|INFO|WARNING|ERROR|"
                       r"CRITICAL) [\w.]+: ")
TOKEN = "the-shared-connect-token-7f3a"
PAYLOAD_MARK = 987654321


def _low_fd_limit() -> None:
    # As on a machine whose default `ulimit -n` is small: pushsvc must raise it to fit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))


def _serve(log_path: Path, env: dict[str, str]) -> tuple[Any, str]:
    port = free_port()
    log_path.unlink(missing_ok=True)  # spawn appends; this run's lines only
    popen = spawn([str(pushsvc_executable()), "serve", "example_app:app"], log_path=log_path,
                  env=pushsvc_env("127.0.0.1", port, env), cwd=APP_DIR,
                  preexec_fn=_low_fd_limit)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: popen.poll() is not None or http_get(f"{url}/healthz"),
                   timeout=60, what="pushsvc serve example_app:app")
    except BaseException:
        stop_process(popen)
        raise
    assert popen.poll() is None, log_path.read_text()
    return popen, url


def test_a_users_app_gets_pushsvcs_worker_settings_and_one_log_format(
    artifacts_dir: Path,
) -> None:
    log_path = artifacts_dir / "serve-app.log"
    popen, url = _serve(log_path, {"PUSHSVC_WORKER_CONNECTIONS": "700",
                                   "PUSHSVC_SHUTDOWN_GRACE_SECONDS": "4.5"})
    client = RecordingClient(transports=["websocket"])
    try:
        assert http_get(f"{url}/hello") == (200, "hello from the existing app")
        client.connect(url)
        assert client.call("add", {"a": 2, "b": 3}) == {"sum": 5}
        [worker] = psutil.Process(popen.pid).children()
        soft, _ = worker.rlimit(psutil.RLIMIT_NOFILE)
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert soft >= min(700 + 256, hard)
        # The worker reports what gunicorn gave it, not what was asked for.
        wait_until(lambda: f"worker {worker.pid} ready" in log_path.read_text(), timeout=10,
                   what="the worker's ready line")
        assert (f"INFO pushsvc.worker: worker {worker.pid} ready: worker_connections=700, "
                f"graceful_timeout=4 s, open files limit {soft}, push on") in log_path.read_text()

        popen.send_signal(signal.SIGTERM)
        client.wait_for("server_shutdown")
        assert popen.wait(timeout=30) == 0
    finally:
        client.close()
        stop_process(popen)
    log = log_path.read_text()
    assert "INFO pushsvc.cli: pushsvc serve: example_app:app, binding 127.0.0.1:" in log
    assert "INFO pushsvc.app: pushsvc initialised" in log
    assert "INFO gunicorn.error: Booting worker with pid" in log
    assert "INFO pushsvc.service: drain finished" in log
    assert [line for line in log.splitlines() if not TEXT_LINE.match(line)] == []


def test_json_logs_parse_line_by_line_and_hold_no_token_or_payload(artifacts_dir: Path) -> None:
    log_path = artifacts_dir / "serve-app-json.log"
    popen, url = _serve(log_path, {"PUSHSVC_LOG_FORMAT": "json", "PUSHSVC_AUTH_TOKEN": TOKEN,
                                   "PUSHSVC_POD_NAME": "pushsvc-json-0",
                                   "PUSHSVC_SHUTDOWN_GRACE_SECONDS": "3"})
    try:
        with RecordingClient(transports=["websocket"]) as client:
            client.connect(url, auth={"token": TOKEN})
            assert client.call("add", {"a": PAYLOAD_MARK, "b": 1}) == {"sum": PAYLOAD_MARK + 1}
        refused = RecordingClient(transports=["websocket"])
        try:
            refused.connect(url, auth={"token": TOKEN + "-wrong"})
        except Exception:  # the refusal is the point; its line is checked in the log
            pass
        finally:
            refused.close()
        wait_until(lambda: "refused" in log_path.read_text(), timeout=10,
                   what="the refused connect's log line")
        # gevent's own error lines (here a request line that is not HTTP, which it quotes) are
        # log records too, and the token in it is redacted.
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(f"NOT /?token={TOKEN} HTTP AT ALL\r\n\r\n".encode())
            raw.recv(1024)
        wait_until(lambda: '"gevent.pywsgi"' in log_path.read_text(), timeout=10,
                   what="gevent's error line as JSON")
    finally:
        assert stop_process(popen) == 0
    text = log_path.read_text()
    entries = [json.loads(line) for line in text.splitlines()]  # every line is one object
    for entry in entries:
        assert {"time", "level", "logger", "message", "pod"} <= set(entry), entry
        assert entry["pod"] == "pushsvc-json-0"
    loggers = {entry["logger"] for entry in entries}
    assert {"pushsvc.cli", "pushsvc.app", "gunicorn.error", "pushsvc.worker"} <= loggers
    assert TOKEN not in text and str(PAYLOAD_MARK) not in text


def test_an_app_that_is_not_there_is_one_line_before_gunicorn_starts() -> None:
    done = subprocess.run([str(pushsvc_executable()), "serve", "exampel_app:app"], cwd=APP_DIR,
                          env=pushsvc_env("127.0.0.1", free_port(), None), capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        f"pushsvc: APP exampel_app:app: no module 'exampel_app' in the current folder "
        f"({APP_DIR}) or on PYTHONPATH")
    assert "Traceback" not in done.stderr and "gunicorn" not in done.stderr
