"""Fixtures for emitter tests: an API client that must never be called, and a bus on the
emulator with a real pushsvc pod watching it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emitter import CHANNEL_LABEL, Emitter, Envelope, decode_event
from emitter.config import load_api_client
from emitter.kube import events_path
from emitter.rawhttp import raw_request
from tests.support import PushsvcProcess, start_pushsvc, wait_until
from tests.support.pushsvc_proc import REPO_ROOT


class NoCallsClient:
    """Stands in for kubernetes.client.ApiClient where no request may be made."""

    def param_serialize(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an API request was prepared")

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an API call was made")

    @property
    def configuration(self) -> Any:
        raise AssertionError("an API request was prepared")

    @property
    def rest_client(self) -> Any:
        raise AssertionError("an API call was made")


@pytest.fixture
def offline_emitter() -> Emitter:
    return Emitter(api_client=NoCallsClient(), bus_namespace="bus", channel="pushsvc",  # type: ignore[arg-type]
                   involved_object={"kind": "Pod", "name": "job-pod"})


# --- a bus on the emulator: notifier credentials, bus Events read back, a real pod ------------
NAMESPACE = "pushsvc"
_RBAC = "\n---\n".join(
    (REPO_ROOT / "rbac" / name).read_text() for name in ("api.yaml", "notifier.yaml"))


@dataclass
class Bus:
    """The emulator with the shipped RBAC, seen by a notifier and by an admin."""

    api: Any
    notifier_kubeconfig: Path

    def emitter(self, *, serviceaccount: str | None = None, **options: Any) -> Emitter:
        """An Emitter as the notifier (or as ``serviceaccount``, which has no grant)."""
        kubeconfig = (self.notifier_kubeconfig if serviceaccount is None
                      else self.api.kubeconfig_for(NAMESPACE, serviceaccount))
        return Emitter(kubeconfig=str(kubeconfig), bus_namespace=NAMESPACE, **options)

    def events(self) -> list[dict[str, Any]]:
        """Every bus Event in the namespace, oldest first (read as the admin)."""
        admin = load_api_client(str(self.api.kubeconfig)).api_client
        try:
            resp = raw_request(admin, "GET", events_path(NAMESPACE),
                               query=[("labelSelector", f"{CHANNEL_LABEL}=pushsvc")], timeout=10)
            items = json.loads(resp.data)["items"]
        finally:
            admin.close()
        return sorted(items, key=lambda e: int(e["metadata"]["resourceVersion"]))

    def envelopes(self) -> list[Envelope]:
        return [decode_event(e) for e in self.events()]


@pytest.fixture
def bus(kubeapi: Any) -> Bus:
    kubeapi.set_rbac(_RBAC)
    return Bus(kubeapi, kubeapi.kubeconfig_for(NAMESPACE, "pushsvc-notifier"))


@pytest.fixture
def bus_pod(bus: Bus, tmp_path: Path) -> Iterator[PushsvcProcess]:
    """A real ``pushsvc serve`` watching the bus, ready (its watch open)."""
    env = {"PUSHSVC_BUS": "kubernetes", "PUSHSVC_BUS_NAMESPACE": NAMESPACE,
           "PUSHSVC_KUBECONFIG": str(bus.api.kubeconfig_for(NAMESPACE, "pushsvc-api"))}
    with start_pushsvc(env=env, log_dir=tmp_path / "logs") as pod:
        wait_until(lambda: bus.api.stats()["open_watches"] >= 1, what="the pod's watch")
        yield pod
