"""Bytes travel as Socket.IO binary attachments that python-socketio reconstructs."""

from __future__ import annotations

import base64

from socketio.packet import Packet

from emitter.codec import decode_event, encode_event
from emitter.model import Envelope, emit_message, reconstruct_binary


def test_bytes_in_data_round_trip_through_the_event_as_python_socketio_expects():
    data = {"name": "blob", "raw": b"\x00\xffbinary", "parts": [b"a", 2]}
    msg = emit_message("file", data, host_id="h")
    assert msg.binary
    body = encode_event(Envelope(messages=[msg]), namespace="bus", channel="pushsvc",
                        involved_object={"kind": "Pod", "name": "p"})
    wire = decode_event(body).messages[0].model_dump()
    # what PubSubManager._handle_emit does with a binary message
    attachments = [base64.b64decode(a) for a in wire["data"][1:]]
    assert Packet.reconstruct_binary(wire["data"][0], attachments) == [data]
    assert reconstruct_binary(wire["data"][0], attachments) == [data]


def test_a_tuple_is_several_arguments_like_server_emit():
    assert emit_message("ev", (1, "b"), host_id="h").data == [1, "b"]
