"""Overload degrades, never kills (issue 21): a fan-out that never ends by itself — a loop
emitting to every connected client, as a bus listener with a backlog of messages to everyone
does — keeps the worker alive and /healthz answering on pushsvc's engine, whose sends yield to
the gevent loop once a stretch of them has held it for a slice. The worker runs with
gunicorn's ``--timeout 4``: the loop runs three times as long, so a fan-out that held the loop
would miss the heartbeat, be SIGKILLed and answer /healthz from a new worker, or not at all
(as on the former engine, python-engineio, where nothing yielded in a fan-out). Nothing here
is timed beyond the probes' own generous timeout."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import requests

from pushsvc.testing.procs import console_script, free_port, spawn, stop_process
from tests.engineio.conftest import LOGS, _base_env
from tests.support.pushsvc_proc import REPO_ROOT, WORKER_CLASS
from tests.support.raw_engineio import RawWebSocket

GUNICORN_TIMEOUT = 4
FLOOD_SECONDS = 3 * GUNICORN_TIMEOUT
CLIENTS = 20


def _serve() -> Iterator[tuple[str, str]]:
    port = free_port()
    log_path = LOGS / f"fanout-{port}.log"
    popen = spawn([console_script("gunicorn"), "-k", WORKER_CLASS, "-w", "1", "-b",
                   f"127.0.0.1:{port}", "--no-control-socket", "--timeout",
                   str(GUNICORN_TIMEOUT), "tests.engineio.fanout_app:app"],
                  log_path=log_path, cwd=REPO_ROOT,
                  env=_base_env())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}/healthz", timeout=5)
            break
        except requests.RequestException:  # refused, or the worker still importing
            if popen.poll() is not None or time.monotonic() > deadline:
                stop_process(popen, timeout=5)
                raise RuntimeError(f"the fan-out app did not start; log {log_path}") from None
            time.sleep(0.1)
    try:
        yield url, str(log_path)
    finally:
        stop_process(popen, timeout=10)


def test_a_fanout_that_never_ends_keeps_the_worker_and_healthz() -> None:
    gen = _serve()
    url, log_path = next(gen)
    clients: list[RawWebSocket] = []
    try:
        for _ in range(CLIENTS):  # connected, then never read again: every write queues up
            ws = RawWebSocket(url)
            ws.sio_connect()
            clients.append(ws)
        pid = requests.get(f"{url}/pid", timeout=10).text
        assert requests.get(f"{url}/flood", params={"seconds": FLOOD_SECONDS},
                            timeout=10).text == "started"
        answers = []
        deadline = time.monotonic() + FLOOD_SECONDS + 2
        while time.monotonic() < deadline:
            try:
                got = requests.get(f"{url}/healthz", timeout=3 * GUNICORN_TIMEOUT)
                answers.append((got.status_code, got.text))
            except requests.RequestException as exc:
                answers.append((0, type(exc).__name__))
            time.sleep(0.5)
        flooded = json.loads(requests.get(f"{url}/flooded", timeout=10).text)
        assert flooded["started"] and flooded["emits"] > 0
        assert all(answer == (200, "ok") for answer in answers), answers
        assert requests.get(f"{url}/pid", timeout=10).text == pid  # the same worker
        log = open(log_path, encoding="utf-8", errors="replace").read()
        assert "WORKER TIMEOUT" not in log and "SIGKILL" not in log
    finally:
        for ws in clients:
            ws.close()
        next(gen, None)
