"""Nothing the /admin namespace receives holds a credential, in either Admin UI mode.

The issue: in 'development' mode the UI showed ``pushsvc_refresh {token}`` as the client sent
it, and a token copied from there connected as that user. Here a JWT-mode pod with the Admin
UI on gets a client that connects with a token in ``auth`` and another in ``?token=``, an
Authorization header, a cookie, an API key and a Referer holding ``access_token=``; it then
refreshes its token, sends a password inside an event of its own and has a JWT-shaped string echoed
back. Two admins (python-socketio on /admin, as the UI does: one logged in before, one
after, so both the live reports and the socket list are seen) must receive none of them.
The second admin gets the socket list at all only since pushsvc sends it itself
(python-socketio 5.18 sent it to the last socket it listed).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import socketio

from tests.admin.conftest import ADMIN_ENV
from tests.support import PushsvcProcess, RecordingClient, start_pushsvc, wait_until
from tests.support.tokens import SECRET, Tokens, jwt_env

LOGIN = {"username": ADMIN_ENV["PUSHSVC_ADMIN_UI_USERNAME"],
         "password": ADMIN_ENV["PUSHSVC_ADMIN_UI_PASSWORD"]}
TOKENS = Tokens()


class AdminListener:
    """A python-socketio client on /admin that keeps every event as text."""

    def __init__(self, url: str) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.sio.on("*", self._any, namespace="/admin")
        self.sio.connect(url, namespaces=["/admin"], auth=LOGIN, transports=["websocket"],
                         wait_timeout=5)

    def _any(self, event: str, *args: Any) -> None:
        with self._lock:
            self.seen.append((event, repr(args)))

    def events(self, name: str) -> list[str]:
        with self._lock:
            return [text for event, text in self.seen if event == name]

    def text(self) -> str:
        with self._lock:
            return "\n".join(f"{event} {text}" for event, text in self.seen)

    def close(self) -> None:
        self.sio.disconnect()
        self.sio.shutdown()


@pytest.fixture(scope="module", params=["development", "production"])
def admin_jwt_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[PushsvcProcess]:
    env = {**ADMIN_ENV, **jwt_env(), "PUSHSVC_ADMIN_UI_MODE": str(request.param)}
    with start_pushsvc(env=env, log_dir=tmp_path_factory.mktemp("logs")) as proc:
        yield proc


def test_no_token_password_or_cookie_reaches_the_admins(admin_jwt_server: PushsvcProcess
                                                        ) -> None:
    url = admin_jwt_server.url
    development = "development mode)" in admin_jwt_server.read_log()
    by_auth = TOKENS.mint("alice", ttl=600)
    by_query = TOKENS.mint("alice", ttl=601)
    by_header = TOKENS.mint("alice", ttl=602)
    refreshed = TOKENS.mint("alice", ttl=603)
    echoed = TOKENS.mint("bob", ttl=604)
    secrets = {
        "auth token": by_auth, "query token": by_query, "bearer token": by_header,
        "refresh token": refreshed, "echoed JWT": echoed,
        "cookie": "cookie-secret-4f1c9a", "api key": "api-key-secret-77d2",
        "referer token": "referer-secret-0b3e", "password in an event": "pw-in-an-event-42",
        "the JWT secret": SECRET, "the admin password": LOGIN["password"],
    }
    before = AdminListener(url)
    try:
        with RecordingClient(transports=["websocket"]) as client:
            client.sio.connect(
                f"{url}/?token={by_query}", auth={"token": by_auth},
                headers={"Authorization": f"Bearer {by_header}",
                         "Cookie": f"session={secrets['cookie']}",
                         "X-Api-Key": secrets["api key"],
                         "Referer": f"http://app.example/page?access_token="
                                    f"{secrets['referer token']}&tab=2"},
                transports=["websocket"], wait_timeout=5)
            client.wait_for_reply("Connected")
            assert client.call("pushsvc_refresh", {"token": refreshed})["ok"] is True
            # An application event of its own (this pod has no handler for it: refused, but
            # the instrumentation reports it first).
            client.emit("app_login", {"user": "alice",
                                      "password": secrets["password in an event"]})
            client.emit("my_event", {"data": echoed})
            client.wait_for_reply(echoed)
            after = AdminListener(url)
            try:
                if development:
                    wait_until(lambda: any("pushsvc_refresh" in e
                                           for e in before.events("event_received")),
                               what="the admin seeing the refresh event")
                    wait_until(lambda: len(before.events("event_sent")) >= 3,
                               what="the admin seeing the replies")
                    _assert_no_secret(before.text(), secrets)
                    wait_until(lambda: after.events("all_sockets"), what="the socket list")
                    assert client.sio.get_sid("/") in after.events("all_sockets")[0]
                stats = len(after.events("server_stats"))
                wait_until(lambda: len(after.events("server_stats")) >= stats + 2,
                           what="two more server_stats")
                seen = before.text() + "\n" + after.text()
            finally:
                after.close()
    finally:
        before.close()
    assert "server_stats" in seen
    _assert_no_secret(seen, secrets)


def _assert_no_secret(seen: str, secrets: dict[str, str]) -> None:
    for what, secret in secrets.items():
        # The signature part alone would be enough to tell a token apart: look for both.
        for piece in {secret, secret.rsplit(".", 1)[-1]}:
            assert piece not in seen, f"the {what} reached an admin"
