"""Settings that restrict clients: broadcast switched off, an auth token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import socketio

from tests.support import PushsvcProcess, RecordingClient, start_pushsvc

TOKEN = "s3cret-token-value"
Clients = Callable[..., RecordingClient]


@pytest.fixture(scope="module")
def restricted(server_logs: Path) -> Iterator[PushsvcProcess]:
    env = {
        "PUSHSVC_ALLOW_CLIENT_BROADCAST": "false",
        "PUSHSVC_AUTH_TOKEN": TOKEN,
        "PUSHSVC_REPLY_EVENT": "push",
    }
    with start_pushsvc(env=env, log_dir=server_logs) as proc:
        yield proc


def test_broadcast_is_refused_when_switched_off(restricted: PushsvcProcess, clients: Clients
                                                ) -> None:
    a = clients(reply_event="push").connect(restricted.url, auth={"token": TOKEN})
    b = clients(reply_event="push").connect(restricted.url, auth={"token": TOKEN})
    ack = a.call("my_broadcast_event", {"data": "to all"})
    assert ack == {"ok": False, "event": "my_broadcast_event", "code": "disabled",
                   "reason": "my_broadcast_event is disabled on this server"}
    assert a.wait_for("error")["code"] == "disabled"
    b.call("my_event", {"data": "marker"})
    b.wait_for_reply("marker")
    assert "to all" not in b.replies() + a.replies()


def test_the_reply_event_name_is_a_setting(restricted: PushsvcProcess, clients: Clients) -> None:
    a = clients(reply_event="push").connect(restricted.url, auth={"token": TOKEN})
    a.call("my_event", {"data": "renamed"})
    a.wait_for_reply("renamed")
    assert a.received("nuke_response") == []


@pytest.mark.parametrize("auth", [None, {"token": "wrong"}, {"token": 5}, "not-an-object"])
def test_a_connection_without_the_right_token_is_refused(
    restricted: PushsvcProcess, clients: Clients, auth: object
) -> None:
    client = clients(reply_event="push")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(restricted.url, auth=auth)
    assert client.received("connect_error") == [{"message": "unauthorized"}]
    assert TOKEN not in restricted.read_log()
