"""``pushsvc_bus_hop_seconds``: every pod times the hops of each bus Event it reads —
publish → read off the watch → emitted to its clients; its own Events only to the read."""

from __future__ import annotations

from tests.support.probes import metric
from tests.support.sio_client import wait_until

HOPS = ("publish_to_read", "read_to_emit", "publish_to_emit")


def _counts(url: str) -> dict[str, float]:
    return {hop: metric(url, "pushsvc_bus_hop_seconds_count", hop=hop) for hop in HOPS}


def test_a_room_message_is_timed_read_and_emitted_on_the_other_pods_read_only_on_its_own(
        cluster):
    members = [cluster.connect(k, rooms=("hops",)) for k in range(3)]
    before = [_counts(pod.url) for pod in cluster.pods]
    members[2].emit("my_room_event", {"room": "hops", "data": "timed"})
    for c in members:
        c.wait_for(predicate=lambda p: p.get("data") == "timed")
    # the sending pod reads its own Event back through the watch (and emits nothing)
    wait_until(lambda: _counts(cluster.pods[2].url)["publish_to_read"]
               > before[2]["publish_to_read"], what="pod 3 reading its own Event")
    after = [_counts(pod.url) for pod in cluster.pods]
    for k in (0, 1):
        assert all(after[k][hop] == before[k][hop] + 1 for hop in HOPS), (k, before, after)
    assert after[2]["publish_to_read"] == before[2]["publish_to_read"] + 1
    assert after[2]["read_to_emit"] == before[2]["read_to_emit"]
    assert metric(cluster.pods[0].url, "pushsvc_bus_hop_seconds_bucket", hop="read_to_emit",
                  le="+Inf") == after[0]["read_to_emit"]
