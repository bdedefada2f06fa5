"""The Event body carries every PubSubManager message kind and reads back unchanged."""

from __future__ import annotations

import pytest

from emitter.codec import (
    CHANNEL_LABEL,
    PAYLOAD_ANNOTATION,
    REASON,
    decode_event,
    encode_event,
)
from emitter.model import Envelope, emit_message

MESSAGES = [
    # exactly the dicts python-socketio 5.18's PubSubManager publishes
    {"method": "emit", "event": "ev", "data": [{"a": 1}], "binary": False, "namespace": "/",
     "room": "r", "skip_sid": None, "callback": ["r", "/", 3], "host_id": "h1"},
    {"method": "emit", "event": "ev", "data": [1, "two"], "binary": False, "namespace": "/chat",
     "room": None, "skip_sid": ["s1", "s2"], "callback": None, "host_id": "h1"},
    {"method": "enter_room", "sid": "s1", "room": "r", "namespace": "/", "host_id": "h1"},
    {"method": "leave_room", "sid": "s1", "room": "r", "namespace": "/", "host_id": "h1"},
    {"method": "close_room", "room": "r", "namespace": "/", "host_id": "h1"},
    {"method": "disconnect", "sid": "s1", "namespace": "/", "host_id": "h1"},
    {"method": "callback", "host_id": "h2", "sid": "s1", "namespace": "/", "id": 3,
     "args": ["ok"]},
]


def body_for(messages: list) -> dict:
    return encode_event(Envelope(messages=messages), namespace="bus", channel="pushsvc",
                        involved_object={"kind": "Pod", "name": "job-pod"})


@pytest.mark.parametrize("message", MESSAGES, ids=[m["method"] for m in MESSAGES])
def test_every_pubsub_message_kind_round_trips_unchanged(message):
    decoded = decode_event(body_for([message])).messages[0].model_dump()
    expected = {k: (tuple(v) if k == "callback" and v else v) for k, v in message.items()}
    assert decoded == expected


def test_one_event_can_carry_several_messages():
    envelope = decode_event(body_for(MESSAGES))
    assert [m.method for m in envelope.messages] == [m["method"] for m in MESSAGES]


def test_the_event_body_follows_the_wire_contract():
    body = body_for([emit_message("job_done", {"secret": "s3cr3t"}, host_id="h", room="ops")])
    assert body["metadata"]["labels"] == {CHANNEL_LABEL: "pushsvc"}
    assert body["metadata"]["name"].startswith("pushsvc-job-done-")
    assert body["reason"] == REASON
    assert "eventTime" not in body
    assert body["involvedObject"] == {"kind": "Pod", "name": "job-pod", "namespace": "bus"}
    assert body["message"].startswith("emit 'job_done' to room 'ops' (")
    assert "s3cr3t" not in body["message"]
    assert "s3cr3t" in body["metadata"]["annotations"][PAYLOAD_ANNOTATION]
