"""``with em.batch():`` packs notifications into as few Events as the caps allow, and a real
pushsvc pod delivers every one of them to its client, in order."""

from __future__ import annotations

from tests.support import RecordingClient, wait_until


def numbers(client: RecordingClient) -> list[int]:
    return [p["n"] for p in client.received("seq") if isinstance(p, dict)]


def test_forty_notifications_in_a_batch_are_one_event_and_arrive_in_order(bus, bus_pod):
    with RecordingClient(transports=["websocket"]).connect(bus_pod.url) as client:
        client.wait_for_reply("Connected")
        client.emit("join", {"room": "team"})
        client.wait_for(predicate=lambda p: "team" in str(p.get("data")))
        with bus.emitter() as em:
            with em.batch():
                names = {em.notify("seq", {"n": n}, to="team") for n in range(40)}
        assert len(names) == 1
        events = bus.events()
        assert [e["metadata"]["name"] for e in events] == list(names)
        assert "40 messages: emit 'seq' to room 'team' x40" in events[0]["message"]
        wait_until(lambda: len(numbers(client)) >= 40, what="40 messages at the client")
        assert numbers(client) == list(range(40))


def test_a_batch_longer_than_fifty_is_split_into_events_of_fifty_in_order(bus, bus_pod):
    with RecordingClient(transports=["websocket"]).connect(bus_pod.url) as client:
        client.wait_for_reply("Connected")
        with bus.emitter() as em, em.batch():
            for n in range(120):
                em.notify("seq", {"n": n})
        assert [len(env.messages) for env in bus.envelopes()] == [50, 50, 20]
        wait_until(lambda: len(numbers(client)) >= 120, what="120 messages at the client")
        assert numbers(client) == list(range(120))
