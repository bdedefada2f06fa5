"""``pushsvc_bus_live_events`` counts the bus Events that exist, as a pod's watch sees them:
each new one, and each one the API server deletes (here: the emulator's event TTL, as the
retention janitor will later). The first list reads one item only (a pod never holds the
namespace's Events at start), so an Event from before the pod is counted from the next relist
on, and its deletion before then does not change the figure."""

from __future__ import annotations

import urllib.request

from emitter import Emitter
from tests.support import start_pushsvc, wait_until
from tests.support.probes import metric
from tests.support.pushsvc_proc import REPO_ROOT

RBAC = "\n---\n".join((REPO_ROOT / "rbac" / f).read_text() for f in ("api.yaml", "notifier.yaml"))


def gauge(url: str) -> float | None:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("pushsvc_bus_live_events "):
                return float(line.split()[1])
    return None


def test_the_gauge_counts_new_and_expired_events_on_a_real_pod(kubeapi_factory, tmp_path):
    api = kubeapi_factory(event_ttl=8)
    api.set_rbac(RBAC)
    with Emitter(kubeconfig=str(api.kubeconfig_for("pushsvc", "pushsvc-notifier")),
                 bus_namespace="pushsvc") as em:
        em.notify("before", 1)  # exists before the pod starts: not read by its first list
        env = {"PUSHSVC_BUS": "kubernetes", "PUSHSVC_BUS_NAMESPACE": "pushsvc",
               "PUSHSVC_KUBECONFIG": str(api.kubeconfig_for("pushsvc", "pushsvc-api"))}
        with start_pushsvc(env=env, log_dir=tmp_path / "logs") as pod:
            # Ready is not "watching": wait for the watch, or the new Events predate its list.
            wait_until(lambda: metric(pod.url, "pushsvc_bus_watch_up") == 1,
                       what="the pod's bus watch up")
            assert gauge(pod.url) == 0
            with em.batch():  # one Event for both
                em.notify("a", 1)
                em.notify("b", 2)
            em.notify("c", 3)
            wait_until(lambda: gauge(pod.url) == 2, what="two new Events counted")
            wait_until(lambda: gauge(pod.url) == 0, timeout=40,
                       what="every Event gone after the TTL")


def test_before_a_relist_only_the_deletion_of_an_event_seen_arriving_counts():
    from pushsvc.bus import metrics
    from pushsvc.bus.watcher import EventWatcher
    from tests.bus.canned import EndOfScript, FakeClock, ScriptedTransport, event_obj, line

    clock = FakeClock()
    seen: list[float] = []
    steps = [("list", [], 10),
             ("watch", [line("DELETED", event_obj("older", 5)),  # from before the pod
                        line("ADDED", event_obj("u1", 11, 1)),
                        line("ADDED", event_obj("u2", 12, 2)),
                        line("DELETED", event_obj("u1", 13, 1))])]
    watcher = EventWatcher(ScriptedTransport(steps), namespace="bus", channel="pushsvc",
                           timeout_seconds=300, sleep=clock.sleep, clock=clock)
    try:
        for _ in watcher.deliveries():
            seen.append(metrics.live_events._value.get())
    except EndOfScript:
        pass
    assert seen == [1, 2]
    assert metrics.live_events._value.get() == 1
