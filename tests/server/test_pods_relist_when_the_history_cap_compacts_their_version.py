"""When the emulator's bounded history compacts past the version a pod's watch holds (more
writes than ``max_history`` while the watch hung), the pod gets 410 on resuming, relists and
delivers every notification of that time once, on both pods."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emitter import Emitter
from pushsvc.testing.kubeapi import KubeAPI, start_kubeapi
from tests.support import PushsvcProcess, RecordingClient, wait_until
from tests.support.probes import metric

MAX_HISTORY = 50
COUNT = 20
Clients = Callable[..., RecordingClient]
Pods = Callable[..., list[PushsvcProcess]]


@pytest.fixture
def kubeapi(tmp_path: Path) -> Iterator[KubeAPI]:
    """This module's emulator (kube_pods uses it): a history of MAX_HISTORY changes."""
    with start_kubeapi(tmp_path / "kubeapi", max_history=MAX_HISTORY) as api:
        yield api


def _relists(pods: list[PushsvcProcess]) -> float:
    return sum(metric(pod.url, "pushsvc_bus_relists_total") for pod in pods)


def test_pods_relist_after_the_cap_compacts_their_watch_version_and_lose_nothing(
    kube_pods: Pods, clients: Clients, kubeapi: KubeAPI
) -> None:
    pods = kube_pods(2)
    tabs = [clients(transports=["websocket"]).connect(pod.url) for pod in pods]
    for tab in tabs:
        tab.wait_for_reply("Connected")
    relists_before = _relists(pods)
    held = int(kubeapi.stats()["resource_version"])
    kubeapi.fault("stall")  # the pods' watches hang, as a half-open connection would
    with Emitter(kubeconfig=str(kubeapi.kubeconfig), namespace="pushsvc") as bus, \
            Emitter(kubeconfig=str(kubeapi.kubeconfig), namespace="elsewhere") as other:
        for n in range(COUNT):
            bus.notify("nuke_response", {"data": f"kept #{n}"})
            for _ in range(MAX_HISTORY // 5):  # writes anywhere move the shared history
                other.notify("nuke_response", {"data": "filler"})
    assert int(kubeapi.stats()["compacted_resource_version"]) > held
    kubeapi.fault("drop_watches")  # each pod resumes from a compacted version: 410

    expected = [f"kept #{n}" for n in range(COUNT)]
    for tab in tabs:
        wait_until(lambda tab=tab: set(expected) <= set(tab.replies()), timeout=60,
                   what="every notification after the relist")
    wait_until(lambda: _relists(pods) >= relists_before + 2, what="both pods to relist")
    for tab in tabs:
        kept = [r for r in tab.replies() if str(r).startswith("kept #")]
        assert kept == expected, Counter(kept).most_common(3)
