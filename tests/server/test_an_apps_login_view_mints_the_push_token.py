"""An existing Flask app (tests/server/login_app.py, docs/authentication.md's example) mints
the token in its login view; the client connects with it; the app's own handler puts the
client in a room its token does not name (server code always may) and lists the user's
sessions on this pod; no token or secret reaches the log, even with the app logging request
lines at INFO."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import RecordingClient, free_port, wait_until
from tests.support.pushsvc_proc import REPO_ROOT, WORKER_CLASS
from tests.support.tokens import SECRET, assert_never_logged


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return None


def _login(url: str, user: str) -> str:
    body = urllib.parse.urlencode({"user": user}).encode()
    with urllib.request.urlopen(f"{url}/login", data=body, timeout=5) as resp:
        return str(json.loads(resp.read())["token"])


@pytest.fixture(scope="module")
def login_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHSVC_")}
    env |= {"PUSHSVC_BUS": "memory", "PUSHSVC_SHUTDOWN_GRACE_SECONDS": "3",
            "PUSHSVC_AUTH_MODE": "jwt", "PUSHSVC_JWT_SECRET": SECRET,
            "PUSHSVC_DEMO_PAGE": "false"}
    log_path = tmp_path_factory.mktemp("login-app") / "gunicorn.log"
    with open(log_path, "wb") as log_file:
        popen = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-k", WORKER_CLASS,
             "-w", "1", "--no-control-socket", "--graceful-timeout", "3",
             "-b", f"127.0.0.1:{port}", "tests.server.login_app:app"],
            cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _get(f"{url}/healthz"), timeout=30, what="gunicorn to serve")
        yield url, log_path
    finally:
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=10)


def test_the_login_views_token_connects_and_server_code_adds_rooms(
    login_app: tuple[str, Path]
) -> None:
    url, log_path = login_app
    tokens = [_login(url, "alice"), _login(url, "alice"), _login(url, "bob")]
    tabs = [RecordingClient(transports=["websocket"]) for _ in tokens]
    try:
        for tab, token in zip(tabs, tokens, strict=True):
            tab.connect(url, auth={"token": token}).wait_for_reply("Connected")
        alice, alice2, bob = tabs
        # The token's rooms: team-alice and job-*; a project room only through the app.
        assert alice.call("join", {"room": "project-apollo"})["code"] == "forbidden"
        assert alice.call("open_project", {"project": "apollo"}) == {"ok": True}
        assert bob.call("open_project", {"project": "apollo"}) == {"ok": False}
        assert alice.call("join", {"room": "team-alice"}) == {"ok": True}
        alice.wait_for_reply("In rooms: project-apollo, team-alice, user:alice")
        sessions = alice.call("my_tabs")["sessions"]
        assert sorted(sessions) == sorted([alice.sio.get_sid(), alice2.sio.get_sid()])
        assert bob.call("my_tabs")["sessions"] == [bob.sio.get_sid()]
        # A client that cannot send auth puts the token in the query string, which the
        # request log line shows: redacted.
        tokens.append(_login(url, "carol"))
        by_query = RecordingClient(transports=["polling"])
        tabs.append(by_query)
        by_query.connect(f"{url}/?token={tokens[-1]}").wait_for_reply("Connected")
        by_query.call("my_event", {"data": "x"})
    finally:
        for tab in tabs:
            tab.close()
    # pushsvc's worker logs no request line (no access log), so none to redact
    assert "token=" not in log_path.read_text()
    assert assert_never_logged([log_path], [SECRET, *tokens]) == 1
