"""The API server's resourceVersion goes back (etcd restored from a backup; here the emulator's
snapshot/restore fault): pods notice, reset their watermark and relist, so the notifications
created after the restore reach every client — without replaying what existed before.

A watch from a version the restored server does not have yet waits silently
(kubernetes#135452), so only a list can tell: pods check after a quiet watch."""

from __future__ import annotations

from collections import Counter

from tests.bus.cluster import finish, numbered, wait_stream_delivered
from tests.support.sio_client import wait_until


def test_notifications_after_an_etcd_restore_reach_every_client_once(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    before = api.fault("snapshot")  # the backup: taken before the pods even started
    cluster = cluster_factory(api, pods=2)
    cluster.wait_all_watching()
    clients = [cluster.connect(k) for k in range(2)]
    finish(cluster.start_stream(count=30, tag="before", every=1))
    wait_stream_delivered(clients, "before", 30)
    reached = int(api.stats()["resource_version"])
    restored = api.fault("restore")
    assert int(restored["resourceVersion"]) < reached - 10  # the 10 below stay under it
    finish(cluster.start_stream(count=10, tag="after", every=1))
    wait_stream_delivered(clients, "after", 10, timeout=60)
    for client in clients:
        got = numbered(client, "after")
        assert sorted(got) == list(range(10)), Counter(got).most_common(3)
        assert sorted(numbered(client, "before")) == list(range(30))  # nothing replayed
    wait_until(lambda: all(
        cluster.metric(k, 'pushsvc_bus_resource_version_resets_total{cause="list_behind"}') >= 1
        for k in range(2)), what="each pod to count the reset")
    for pod in cluster.pods:
        assert "etcd restored from a backup?" in pod.read_log()
    assert before["resourceVersion"] == restored["resourceVersion"]
