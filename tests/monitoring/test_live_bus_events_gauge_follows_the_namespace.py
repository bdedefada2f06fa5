"""``pushsvc_bus_live_events`` counts the bus Events that exist, as a pod's watch sees them:
each new one, and each one the API server deletes (here: the emulator's event TTL, as the
retention janitor will later). The first list reads one item only (a pod never holds the
namespace's Events at start), so an Event from before the pod is counted from the next relist
on, and its deletion never makes the figure negative."""

from __future__ import annotations

import urllib.request

from emitter import Emitter
from tests.support import start_pushsvc, wait_until
from tests.support.pushsvc_proc import REPO_ROOT

RBAC = "\n---\n".join((REPO_ROOT / "rbac" / f).read_text() for f in ("api.yaml", "notifier.yaml"))


def gauge(url: str) -> float | None:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("pushsvc_bus_live_events "):
                return float(line.split()[1])
    return None


def test_the_gauge_counts_existing_new_and_expired_events(kubeapi_factory, tmp_path):
    api = kubeapi_factory(event_ttl=8)
    api.set_rbac(RBAC)
    with Emitter(kubeconfig=str(api.kubeconfig_for("pushsvc", "pushsvc-notifier")),
                 namespace="pushsvc") as em:
        em.notify("before", 1)  # exists before the pod starts: not read by its first list
        env = {"PUSHSVC_BUS": "kubernetes", "PUSHSVC_BUS_NAMESPACE": "pushsvc",
               "PUSHSVC_KUBECONFIG": str(api.kubeconfig_for("pushsvc", "pushsvc-api"))}
        with start_pushsvc(env=env, log_dir=tmp_path / "logs") as pod:
            wait_until(lambda: gauge(pod.url) == 0, what="the gauge exported")
            with em.batch():  # one Event for both
                em.notify("a", 1)
                em.notify("b", 2)
            em.notify("c", 3)
            wait_until(lambda: gauge(pod.url) == 2, what="two new Events counted")
            wait_until(lambda: gauge(pod.url) == 0, timeout=40,
                       what="every Event gone after the TTL")
