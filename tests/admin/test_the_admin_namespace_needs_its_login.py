"""The /admin namespace opens only with the Admin UI on and its login; it never opens the
other namespaces, never shows other clients' credentials, and read-only means read-only."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
import socketio
from pydantic import ValidationError

from pushsvc.settings import Settings
from tests.admin.conftest import ADMIN_ENV
from tests.support import RecordingClient, start_pushsvc, wait_until

LOGIN = {"username": ADMIN_ENV["PUSHSVC_ADMIN_UI_USERNAME"],
         "password": ADMIN_ENV["PUSHSVC_ADMIN_UI_PASSWORD"]}


class Admin:
    """A python-socketio client on /admin that keeps what the instrumentation sends."""

    def __init__(self) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.events: dict[str, list[Any]] = {}
        self.errors: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.sio.on("*", self._any, namespace="/admin")
        for ns in ("/", "/admin"):
            self.sio.on("connect_error", lambda data, ns=ns: self.errors.__setitem__(ns, data),
                        namespace=ns)

    def _any(self, event: str, *args: Any) -> None:
        with self._lock:
            self.events.setdefault(event, []).append(args)

    def connect(self, url: str, auth: Any, namespaces: list[str] | None = None) -> Admin:
        self.sio.connect(url, namespaces=namespaces or ["/admin"], auth=auth,
                         transports=["websocket"], wait_timeout=5)
        return self

    def close(self) -> None:
        self.sio.disconnect()
        self.sio.shutdown()


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_with_the_admin_ui_off_the_namespace_and_the_page_are_refused(plain_server):
    admin = Admin()
    with pytest.raises(socketio.exceptions.ConnectionError):
        admin.connect(plain_server.url, LOGIN)
    admin.close()
    assert http_status(f"{plain_server.url}/admin/") == 404


def test_a_wrong_login_is_refused_counted_and_never_logged(admin_server):
    for auth in ({"username": "ops", "password": "guess-0123"}, None, {"username": "ops"}):
        admin = Admin()
        with pytest.raises(socketio.exceptions.ConnectionError):
            admin.connect(admin_server.url, auth)
        admin.close()
    with urllib.request.urlopen(f"{admin_server.url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert 'pushsvc_refused_connections_total{reason="admin_auth"} 3.0' in text
    log = admin_server.read_log()
    assert "refused an Admin UI connection" in log
    assert "guess-0123" not in log and LOGIN["password"] not in log


def test_the_login_shows_this_pods_sockets_with_their_credentials_masked(admin_server):
    with RecordingClient(transports=["websocket"]) as client:
        client.sio.connect(f"{admin_server.url}?token=hunter2",
                           headers={"Authorization": "Bearer hunter2"},
                           transports=["websocket"], wait_timeout=5)
        client.wait_for_reply("Connected")
        admin = Admin().connect(admin_server.url, LOGIN)
        try:
            wait_until(lambda: admin.events.get("all_sockets"), what="the socket list")
            sockets = admin.events["all_sockets"][0][0]
            mine = next(s for s in sockets if s["id"] == client.sio.get_sid("/"))
            assert mine["handshake"]["headers"]["authorization"] == "(hidden by pushsvc)"
            assert mine["handshake"]["query"]["token"] == "(hidden by pushsvc)"
            assert "hunter2" not in str(admin.events)
        finally:
            admin.close()


def test_read_only_admins_cannot_disconnect_clients(admin_server):
    with RecordingClient(transports=["websocket"]) as client:
        client.connect(admin_server.url)
        client.wait_for_reply("Connected")
        admin = Admin().connect(admin_server.url, LOGIN)
        try:
            wait_until(lambda: admin.events.get("config"), what="the admin config")
            assert "DISCONNECT" not in admin.events["config"][0][0]["supportedFeatures"]
            admin.sio.emit("_disconnect", ("/", False), namespace="/admin")
            stats = len(admin.events.get("server_stats", []))
            # Two stats reports later, the server has long handled the request.
            wait_until(lambda: len(admin.events.get("server_stats", [])) >= stats + 2,
                       what="two more server_stats")
            assert client.connected
        finally:
            admin.close()


def test_the_admin_login_does_not_open_the_main_namespace_without_its_token(tmp_path):
    env = {**ADMIN_ENV, "PUSHSVC_AUTH_TOKEN": "main-namespace-token"}
    with start_pushsvc(env=env, log_dir=tmp_path / "logs") as proc:
        admin = Admin()
        with pytest.raises(socketio.exceptions.ConnectionError):
            admin.connect(proc.url, LOGIN, namespaces=["/admin", "/"])
        assert admin.errors.get("/") is not None  # "/" refused: no token
        admin.close()
        Admin().connect(proc.url, LOGIN).close()  # the login alone is fine for /admin


def test_the_admin_ui_cannot_be_turned_on_without_a_password_and_never_shows_it():
    with pytest.raises(ValidationError, match="PUSHSVC_ADMIN_UI_PASSWORD is not set"):
        Settings(admin_ui=True)
    settings = Settings(admin_ui=True, admin_ui_password="s3cret-value")
    assert "s3cret-value" not in repr(settings) and "s3cret-value" not in str(
        settings.model_dump())
