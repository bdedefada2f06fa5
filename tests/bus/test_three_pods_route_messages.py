"""Three pushsvc processes on one emulator: every PubSubManager message kind crosses pods."""

from __future__ import annotations

from emitter import Emitter
from tests.support.sio_client import wait_until


def data_of(client) -> list:
    return client.replies()


def test_a_room_notification_reaches_exactly_the_members_on_every_pod_once(cluster):
    members = [cluster.connect(k, rooms=("team-a",)) for k in range(3)]
    outsiders = [cluster.connect(k) for k in range(3)]
    with Emitter(kubeconfig=str(cluster.notifier_kubeconfig),
                 bus_namespace=cluster.namespace) as em:
        em.notify("nuke_response", {"data": "to team-a"}, to="team-a")
        em.notify("nuke_response", {"data": "to everyone"})
    for c in members + outsiders:
        c.wait_for(predicate=lambda p: p.get("data") == "to everyone")
    for c in members:
        assert data_of(c).count("to team-a") == 1
    for c in outsiders:
        assert "to team-a" not in data_of(c)
    for c in members + outsiders:
        assert data_of(c).count("to everyone") == 1


def test_skip_sid_leaves_out_one_client_on_another_pod(cluster):
    clients = [cluster.connect(k, rooms=("skippers",)) for k in range(3)]
    skipped = clients[2].sio.get_sid()
    with Emitter(kubeconfig=str(cluster.notifier_kubeconfig),
                 bus_namespace=cluster.namespace) as em:
        em.notify("nuke_response", {"data": "not you"}, to="skippers", skip_sid=skipped)
        em.notify("nuke_response", {"data": "marker"}, to="skippers")
    for c in clients:
        c.wait_for(predicate=lambda p: p.get("data") == "marker")
    assert data_of(clients[0]).count("not you") == 1
    assert data_of(clients[1]).count("not you") == 1
    assert "not you" not in data_of(clients[2])


def test_a_clients_broadcast_and_room_event_on_pod_2_reach_pods_1_and_3_once(cluster):
    others = [cluster.connect(0, rooms=("r2",)), cluster.connect(2, rooms=("r2",))]
    sender = cluster.connect(1, rooms=("r2",))
    sender.emit("my_broadcast_event", {"data": "hello all"})
    sender.emit("my_room_event", {"room": "r2", "data": "hello r2"})
    for c in [*others, sender]:
        c.wait_for(predicate=lambda p: p.get("data") == "hello r2")
        c.wait_for(predicate=lambda p: p.get("data") == "hello all")
        assert data_of(c).count("hello all") == 1
        assert data_of(c).count("hello r2") == 1


def test_close_room_from_pod_1_empties_the_room_on_pods_2_and_3(cluster):
    closer = cluster.connect(0, rooms=("closing",))
    remote = [cluster.connect(1, rooms=("closing",)), cluster.connect(2, rooms=("closing",))]
    closer.emit("close_room", {"room": "closing"})
    for c in remote:
        c.wait_for(predicate=lambda p: p.get("data") == "Room closing is closing.")
    # once pod 1's close_room Event exists, a later room message reaches nobody who was in it
    wait_until(lambda: any("close_room 'closing'" in e["message"]
                           for e in cluster.bus_events()), what="the close_room Event")
    with Emitter(kubeconfig=str(cluster.notifier_kubeconfig),
                 bus_namespace=cluster.namespace) as em:
        em.notify("nuke_response", {"data": "after close"}, to="closing")
        em.notify("nuke_response", {"data": "marker-close"})
    for c in [closer, *remote]:
        c.wait_for(predicate=lambda p: p.get("data") == "marker-close")
        assert "after close" not in data_of(c)


def test_disconnect_of_a_client_on_another_pod_works(cluster):
    victim = cluster.connect(2)
    with Emitter(kubeconfig=str(cluster.notifier_kubeconfig),
                 bus_namespace=cluster.namespace) as em:
        em.disconnect(victim.sio.get_sid())
    wait_until(lambda: not victim.connected, what="the remote client disconnected")


def test_replies_to_a_local_client_create_no_event_but_broadcasts_do(cluster):
    client = cluster.connect(0)
    before = len(cluster.bus_events())
    for k in range(5):
        client.emit("my_event", {"data": f"echo {k}"})
    client.wait_for(predicate=lambda p: p.get("data") == "echo 4")
    assert len(cluster.bus_events()) == before
    client.emit("my_broadcast_event", {"data": "one event"})
    client.wait_for(predicate=lambda p: p.get("data") == "one event")
    wait_until(lambda: len(cluster.bus_events()) == before + 1, what="one new Event")
    assert cluster.metric(0, "pushsvc_bus_local_only_total") >= 5


def test_kubectl_get_events_shows_the_bus_traffic_readably(cluster):
    with Emitter(kubeconfig=str(cluster.notifier_kubeconfig),
                 bus_namespace=cluster.namespace) as em:
        em.notify("build_done", {"secret": "never shown"}, to="ops")
    out = cluster.kubectl("get", "events", "-n", cluster.namespace,
                          "--field-selector", "reason=PushsvcMessage")
    assert "PushsvcMessage" in out
    assert "emit 'build_done' to room 'ops'" in out
    assert "never shown" not in out


def test_open_watches_do_not_block_the_gevent_worker(cluster):
    # every pod watches before any client connected, and still answers HTTP at once
    cluster.wait_all_watching()
    from tests.bus.cluster import http_get

    for pod in cluster.pods:
        for _ in range(10):
            assert http_get(f"{pod.url}/healthz")[0] == 200
    assert cluster.api.stats()["open_watches"] >= 3
