"""A payload from an unknown schema version, or no valid payload, is refused clearly."""

from __future__ import annotations

import json

import pytest

from emitter import SCHEMA_VERSION, SchemaVersionError, WireError
from emitter.codec import decode_payload


def test_a_newer_schema_version_is_refused_with_both_versions_named():
    payload = json.dumps({"v": SCHEMA_VERSION + 1, "ts": 0, "messages": [{"method": "new"}]})
    with pytest.raises(SchemaVersionError, match=r"version 2 is not supported .*knows 1"):
        decode_payload(payload)


def test_a_valid_looking_payload_with_another_version_is_still_refused():
    payload = json.dumps({"v": 0, "messages": [{"method": "close_room", "room": "r",
                                                "host_id": "h"}]})
    with pytest.raises(SchemaVersionError):
        decode_payload(payload)


@pytest.mark.parametrize("payload", ["{not json", "[]", '{"v": 1, "messages": []}',
                                     '{"v": 1, "messages": [{"method": "emit"}]}'])
def test_garbage_is_a_wire_error(payload):
    with pytest.raises(WireError):
        decode_payload(payload)
