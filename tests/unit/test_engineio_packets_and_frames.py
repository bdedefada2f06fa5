"""pushsvc.engineio's codec with canned bytes: polling payloads, server frames, the 101 key."""

from __future__ import annotations

import json

import pytest

from pushsvc.engineio import packets
from pushsvc.engineio.packets import BadPacket
from pushsvc.engineio.websocket import accept_key


def test_a_payload_splits_on_the_record_separator_with_binary_as_base64() -> None:
    assert packets.decode_payload("4hello\x1ebAQIDBA==\x1e3", 16) == [
        (4, "hello"), (4, b"\x01\x02\x03\x04"), (3, "")]


@pytest.mark.parametrize("body", ["abc", "", "4ok\x1e9x", "bnot base64!"])
def test_an_invalid_payload_is_refused(body: str) -> None:
    with pytest.raises(BadPacket):
        packets.decode_payload(body, 16)


def test_a_payload_of_too_many_packets_is_refused() -> None:
    with pytest.raises(BadPacket):
        packets.decode_payload("\x1e".join(["6"] * 17), 16)


def test_text_and_binary_messages_encode_for_polling() -> None:
    assert packets.encoded_text("2[\"x\"]", json) == "42[\"x\"]"
    assert packets.encoded_text(b"\x01\x02\x03\x04", json) == "bAQIDBA=="
    assert packets.encoded_text(packets.Packet(packets.PING), json) == "2"


def test_server_frames_are_unmasked_with_the_three_length_forms() -> None:
    assert packets.frame_bytes(0x1, b"4hi") == b"\x81\x034hi"
    assert packets.frame_bytes(0x2, b"x" * 200)[:4] == b"\x82\x7e\x00\xc8"
    assert packets.frame_bytes(0x1, b"x" * 70000)[:10] == b"\x81\x7f" + (70000).to_bytes(8, "big")


def test_a_frame_is_built_once_per_packet() -> None:
    pkt = packets.Packet(packets.MESSAGE, "hello")
    first = packets.ws_frame(pkt, json)
    pkt.data = "changed"  # the cached frame is reused: every recipient gets the same bytes
    assert packets.ws_frame(pkt, json) is first or packets.ws_frame(pkt, json) == first


def test_the_accept_key_is_rfc_6455s_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
