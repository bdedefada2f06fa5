"""Hostile bus Events, as anyone with ``create`` on events in the namespace can write them.

Everything a writer controls — the payload annotation, the other annotations, labels, the
message, involvedObject, extra fields — is drawn by hypothesis; what the API server sets
(uid, resourceVersion) stays real. Mixed into a stream of valid numbered Events, in the
watch and in a relist, the hostile ones are skipped and every valid one is delivered exactly
once, in order, without the watcher stopping or relisting.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emitter.codec import PAYLOAD_ANNOTATION
from pushsvc.bus.watcher import EventWatcher
from tests.bus.canned import EndOfScript, FakeClock, ScriptedTransport, event_obj, line
from tests.fuzz.strategies import api_json_values as json_values
from tests.fuzz.strategies import deep_json

pytestmark = pytest.mark.unit  # in process, whatever its folder

_message = st.fixed_dictionaries(
    {"method": st.sampled_from(["emit", "enter_room", "leave_room", "close_room", "disconnect",
                                "callback", "nope"]) | st.text(max_size=8)},
    optional={"event": json_values, "data": json_values, "room": json_values,
              "namespace": json_values, "host_id": json_values, "callback": json_values,
              "sid": json_values, "skip_sid": json_values, "args": json_values},
)
_envelope = st.fixed_dictionaries(
    {"v": st.integers(min_value=-2, max_value=3) | json_values,
     "messages": st.lists(_message, max_size=4) | json_values},
    optional={"ts": json_values},
)
payloads = (
    _envelope.map(json.dumps)
    | json_values.map(json.dumps)
    | st.text(max_size=300)
    | deep_json().map(lambda d: '{"v":1,"messages":[' + d + "]}")
    | st.integers(min_value=260_000, max_value=400_000).map(lambda n: '{"v":1,"x":"' + "x" * n)
)


@st.composite
def hostile_event(draw: st.DrawFn, uid: str, rv: int, n: int) -> tuple[dict[str, Any], bool]:
    """An Event with hostile parts, and whether its (intact) payload must still arrive.

    Labels are left alone: the watch's label selector is applied by the API server.
    """
    obj = event_obj(uid, rv, n)
    meta = obj["metadata"]
    choice = draw(st.sampled_from(["payload", "annotations", "fields", "drop"]))
    if choice == "payload":
        meta["annotations"][PAYLOAD_ANNOTATION] = draw(payloads | json_values)
    elif choice == "annotations":
        meta["annotations"] = draw(json_values)
    elif choice == "fields":
        # Fields the watcher never reads: the payload is intact and must be delivered.
        for key in draw(st.lists(st.sampled_from(["message", "involvedObject", "reason",
                                                  "source", "count", "type", "extra"]),
                                 max_size=3)):
            obj[key] = draw(json_values)
        return obj, True
    else:
        del meta["annotations"]
    return obj, False


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[int]]:
    """Events in resourceVersion order, hostile and valid mixed; the valid ones' numbers."""
    events: list[dict[str, Any]] = []
    valid: list[int] = []
    for position in range(draw(st.integers(min_value=1, max_value=12))):
        rv = 100 + position
        if draw(st.booleans()):
            events.append(event_obj(f"v{position}", rv, position))
            valid.append(position)
        else:
            obj, delivered = draw(hostile_event(f"h{position}", rv, position))
            events.append(obj)
            if delivered:
                valid.append(position)
    return events, valid


def _run(steps: list[tuple[Any, ...]]) -> tuple[list[int], list[tuple[str, str]]]:
    clock = FakeClock()
    transport = ScriptedTransport(steps)
    watcher = EventWatcher(transport, namespace="bus", channel="pushsvc", timeout_seconds=300,
                           sleep=clock.sleep, clock=clock)
    numbers: list[int] = []
    try:
        for delivery in watcher.deliveries():
            numbers.extend(m.data[0]["n"] for m in delivery.envelope.messages)
    except EndOfScript:
        pass
    return numbers, transport.calls


@given(stream=streams())
def test_hostile_events_in_the_watch_are_skipped_and_every_valid_one_arrives(stream):
    events, valid = stream
    numbers, calls = _run([("list", [], 99), ("watch", [line("ADDED", e) for e in events])])
    assert numbers == valid
    # one list, one watch, and the watch the script ended: no restart, no relist
    assert [c[0] for c in calls if c[0] in ("list", "watch")] == ["list", "watch", "watch"]


@given(stream=streams())
def test_hostile_events_in_a_relist_are_skipped_and_every_valid_one_arrives(stream):
    events, valid = stream
    gone = line("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Failure", "reason": "Expired", "code": 410,
                          "message": "The resourceVersion for the provided watch is too old."})
    numbers, _ = _run([("list", [], 99), ("watch", [gone]), ("list", events, 200),
                       ("watch", [])])
    assert numbers == valid
