"""Bad input and oversize payloads fail with a clear error before any API call."""

from __future__ import annotations

import pytest

from emitter import DEFAULT_MAX_PAYLOAD_BYTES, MessageError, PayloadTooLargeError


def test_an_oversize_payload_names_its_size_and_the_limit(offline_emitter):
    with pytest.raises(PayloadTooLargeError) as info:
        offline_emitter.notify("big", "x" * (DEFAULT_MAX_PAYLOAD_BYTES + 10))
    assert info.value.size > info.value.limit == DEFAULT_MAX_PAYLOAD_BYTES
    assert f"{DEFAULT_MAX_PAYLOAD_BYTES:,} bytes" in str(info.value)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"event": "", "data": 1}, "event name must be a non-empty string"),
    ({"event": "ev", "data": {1, 2}}, "not JSON-serialisable"),
    ({"event": "ev", "data": float("nan")}, "not JSON-serialisable"),
    ({"event": "ev", "data": object()}, "not JSON-serialisable"),
    ({"event": "ev", "data": 1, "room": ""}, "bad room"),
    ({"event": "ev", "data": 1, "room": 42}, "bad room"),
    ({"event": "ev", "data": 1, "room": []}, "bad room"),
])
def test_bad_input_is_a_message_error_and_nothing_is_sent(offline_emitter, kwargs, match):
    with pytest.raises(MessageError, match=match):
        offline_emitter.notify(kwargs.pop("event"), kwargs.pop("data"), **kwargs)


def test_close_room_and_disconnect_check_their_argument(offline_emitter):
    with pytest.raises(MessageError, match="bad room"):
        offline_emitter.close_room("")
    with pytest.raises(MessageError, match="bad sid"):
        offline_emitter.disconnect("")
