"""Hypothesis strategies for hostile Engine.IO / Socket.IO input.

Frames are built the way an attacker would: valid packet shells around garbage, numbers
where strings belong, attachment counts that never arrive, nesting far past any sane depth,
and plain noise. Engine.IO text packets: a type digit (0 open … 6 noop) and a body; Socket.IO
packets ride in Engine.IO "4" (message) packets: type digit, optional ``N-`` attachment
count, optional ``/ns,`` namespace, optional ack id, then JSON.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st


class TextBytes(bytes):
    """Bytes sent as a TEXT frame: text frames that are not valid UTF-8."""


DEMO_EVENTS = ["my_event", "my_broadcast_event", "join", "leave", "my_room_event",
               "close_room", "disconnect_request", "my_ping", "connect", "disconnect"]

def _json(integers: st.SearchStrategy[int]) -> st.SearchStrategy[object]:
    return st.recursive(
        st.none() | st.booleans() | integers | st.floats(allow_nan=False)
        | st.text(max_size=40),
        lambda children: st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=10), children, max_size=5),
        max_leaves=25,
    )


#: any JSON a client can send (integers of any size)
json_values = _json(st.integers())
#: JSON the API server can return (its integers fit in 64 bits)
api_json_values = _json(st.integers(min_value=-(2**63), max_value=2**63 - 1))


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    depth = draw(st.integers(min_value=30, max_value=60_000))
    opener = draw(st.sampled_from(["[", '{"a":']))
    closer = "]" if opener == "[" else "}"
    closed = draw(st.booleans())
    return opener * depth + "1" + (closer * depth if closed else "")


@st.composite
def event_args(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(DEMO_EVENTS) | st.text(max_size=20))
    args = draw(st.lists(json_values, max_size=3))
    kind = draw(st.sampled_from(["valid", "deep", "cut", "junk"]))
    if kind == "deep":
        return f"[{json.dumps(name)},{draw(deep_json())}]"
    text = json.dumps([name, *args])
    if kind == "cut":
        return text[: draw(st.integers(min_value=0, max_value=max(0, len(text) - 1)))]
    if kind == "junk":
        return draw(st.text(max_size=200))
    return text


@st.composite
def socketio_packet(draw: st.DrawFn) -> str:
    ptype = draw(st.sampled_from("0123456789") | st.text(max_size=2))
    attachments = draw(st.none() | st.integers(min_value=0, max_value=10**12))
    namespace = draw(st.none() | st.sampled_from(["/", "/admin", "/nope"]) | st.text(max_size=8))
    ack = draw(st.none() | st.integers(min_value=0, max_value=10**20))
    body = draw(event_args() | st.text(max_size=100) | json_values.map(json.dumps))
    out = ptype
    if attachments is not None:
        out += f"{attachments}-"
    if namespace is not None:
        out += f"{namespace},"
    if ack is not None:
        out += str(ack)
    return out + body


engineio_text = (
    socketio_packet().map(lambda p: "4" + p)
    | st.tuples(st.sampled_from("0123456789"), st.text(max_size=50)).map("".join)
    | st.text(max_size=300)
)

#: one WebSocket frame: text, or binary (an attachment, or noise)
ws_frames = engineio_text | st.binary(max_size=2048) | st.binary(max_size=64).map(TextBytes)

#: a long-polling POST body: Engine.IO packets joined by the record separator
polling_bodies = st.lists(engineio_text, min_size=1, max_size=5).map("\x1e".join) | st.binary(
    max_size=1024
)
