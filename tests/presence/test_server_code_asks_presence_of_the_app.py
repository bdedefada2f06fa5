"""Server code asks ``pushsvc.presence_of(app)``; on the memory bus it answers for this process
(in process, Flask-SocketIO's test client, JWT mode so users have their rooms)."""

from __future__ import annotations

import pushsvc
from pushsvc.app import create_app, get_socketio
from pushsvc.identity import mint
from pushsvc.settings import Settings
from tests.support.tokens import SECRET


def test_presence_counts_lists_and_knows_who_is_online() -> None:
    app = create_app(Settings(bus="memory", auth_mode="jwt", jwt_secret=SECRET,
                              presence_list_max=1, pod_name="pod-x"))
    socketio = get_socketio(app)
    token = mint(SECRET, sub="alice", ttl_seconds=60, rooms=["team"])
    tabs = [socketio.test_client(app, auth={"token": token}) for _ in range(2)]
    for tab in tabs:
        assert tab.is_connected()
        assert tab.emit("join", {"room": "team"}, callback=True)["ok"] is True

    presence = pushsvc.presence_of(app)
    assert presence.presence_count("team") == 2
    answer = presence.presence("team")
    assert answer.truncated and len(answer.members) == 1  # cut at presence_list_max
    member = answer.members[0]
    assert (member.user, member.pod) == ("alice", "pod-x") and member.sid
    assert answer.pods == {"pod-x": 0.0}
    assert presence.is_online("alice") and not presence.is_online("bob")
    for tab in tabs:
        tab.disconnect()
    assert presence.presence_count("team") == 0 and not presence.is_online("alice")


def test_in_other_modes_a_client_may_ask_only_about_rooms_it_is_in() -> None:
    app = create_app(Settings(bus="memory"))
    socketio = get_socketio(app)
    client = socketio.test_client(app)
    assert client.emit("pushsvc_presence", {"room": "team"}, callback=True)["code"] == "forbidden"
    client.emit("join", {"room": "team"}, callback=True)
    answer = client.emit("pushsvc_presence", {"room": "team"}, callback=True)
    assert answer["ok"] is True and answer["count"] == 1
    assert "sid" not in answer["members"][0]
    client.disconnect()
