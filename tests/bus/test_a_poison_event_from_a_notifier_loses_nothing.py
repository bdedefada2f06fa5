"""A notifier with only ``create`` rights writes one Event whose payload nests 20,000 levels
(raw HTTP, as anyone with that right can): no pod's watcher stops, restarts or relists, and
every valid notification after it reaches every client — also when the poison Event is
inside a relist, where it used to move the watermark past the Events after it."""

from __future__ import annotations

import uuid
from collections import Counter

from emitter.codec import CHANNEL_LABEL, PAYLOAD_ANNOTATION, REASON
from tests.bus.cluster import Cluster, finish, numbered, wait_stream_delivered
from tests.support.sio_client import wait_until

NESTED = '{"v": 1, "messages": [' + "[" * 20_000 + "]" * 20_000 + "]}"
#: 101 openers, then an unterminated string of 100,000 escaped quotes (200 KB): an
#: escape-aware string regex rescans the rest of the text from each of them (quadratic:
#: minutes of a pod's CPU for this one Event).
ESCAPED = "[" * 101 + '"' + '\\"' * 100_000


def poison_event(cluster: Cluster, payload: str = NESTED) -> dict:
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"poison-{uuid.uuid4().hex[:8]}",
                     "labels": {CHANNEL_LABEL: "pushsvc"},
                     "annotations": {PAYLOAD_ANNOTATION: payload}},
        "involvedObject": {"kind": "Pod", "name": "attacker", "namespace": cluster.namespace},
        "reason": REASON, "message": "poison", "type": "Normal",
    }


def total(cluster: Cluster, name: str) -> float:
    return sum(cluster.metric(k, name) for k in range(len(cluster.pods)))


def send_and_check(cluster: Cluster, clients: list, tag: str, count: int = 5) -> None:
    finish(cluster.start_stream(count=count, tag=tag, every=1))
    wait_stream_delivered(clients, tag, count, timeout=60)
    for client in clients:
        got = numbered(client, tag)
        assert sorted(got) == list(range(count)), Counter(got).most_common(3)


def test_a_poison_event_in_the_watch_is_skipped_and_the_next_notifications_arrive(cluster):
    cluster.wait_all_watching()
    clients = [cluster.connect(k) for k in range(3)]
    relists = total(cluster, "pushsvc_bus_relists_total")
    skipped = total(cluster, 'pushsvc_bus_events_skipped_total{reason="too_deep"}')
    assert cluster.post_event(poison_event(cluster)) == 201
    send_and_check(cluster, clients, "after-poison")
    wait_until(lambda: total(cluster, 'pushsvc_bus_events_skipped_total{reason="too_deep"}')
               == skipped + 3, what="each pod to count the poison Event once")
    assert total(cluster, "pushsvc_bus_relists_total") == relists
    for pod in cluster.pods:
        assert "Handler error\n" not in pod.read_log()
        assert "RecursionError" not in pod.read_log()
    cluster.close_clients()


def test_an_event_of_escaped_quotes_costs_no_pod_its_watch_and_the_next_notifications_arrive(
    kubeapi_factory, cluster_factory,
):
    # A cluster of its own: the 200 KB Event would stay in the shared one and weigh on the
    # relists of every later test there.
    cluster = cluster_factory(kubeapi_factory(), pods=3)
    cluster.wait_all_watching()
    clients = [cluster.connect(k) for k in range(3)]
    skipped = total(cluster, 'pushsvc_bus_events_skipped_total{reason="too_deep"}')
    assert cluster.post_event(poison_event(cluster, ESCAPED)) == 201
    send_and_check(cluster, clients, "after-escapes")
    wait_until(lambda: total(cluster, 'pushsvc_bus_events_skipped_total{reason="too_deep"}')
               == skipped + 3, what="each pod to count the Event once")
    cluster.close_clients()


def test_a_poison_event_inside_a_relist_does_not_lose_the_notifications_after_it(cluster):
    cluster.wait_all_watching()
    clients = [cluster.connect(k) for k in range(3)]
    relists = total(cluster, "pushsvc_bus_relists_total")
    # Freeze the watches, write the poison Event and five valid ones, compact past the
    # version the pods hold and drop their watches: each must relist, poison included.
    cluster.api.fault("stall")
    assert cluster.post_event(poison_event(cluster)) == 201
    proc = cluster.start_stream(count=5, tag="relist-poison", every=1)
    finish(proc)
    cluster.api.fault("compact")
    cluster.api.fault("drop_watches")
    wait_stream_delivered(clients, "relist-poison", 5, timeout=60)
    for client in clients:
        assert sorted(numbered(client, "relist-poison")) == list(range(5))
    assert total(cluster, "pushsvc_bus_relists_total") >= relists + 3
    cluster.close_clients()
