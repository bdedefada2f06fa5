"""``EmulatedCluster``: the emulator as a notifier's test sees a cluster with pushsvc installed.

A team whose Job calls ``emitter.notify`` wants to test it against the real API contract
without a cluster: the emulator with the shipped ``rbac/`` loaded (so a Job that needs
more than ``create events`` fails in the test as it would in the cluster), a kubeconfig per
ServiceAccount, the environment a notifier pod gets, and the bus messages read back decoded
with the same codec the pods use. The ``kube_api`` fixture of the pytest plugin is one.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pushsvc.testing.topology import API_SERVICE_ACCOUNT, BUS_NAMESPACE, NOTIFIER_SERVICE_ACCOUNT

if TYPE_CHECKING:
    import pytest

    from emitter.client import Emitter
    from emitter.model import Message
    from pushsvc.testing.kubeapi import KubeAPI

DEFAULT_CHANNEL = "pushsvc"


class EmulatedCluster:
    """The emulator ``api`` seen through pushsvc's namespace and ServiceAccounts.

    :param api: a started emulator with the shipped RBAC loaded.
    :param namespace: the bus namespace (``pushsvc``, as in ``rbac/``).
    """

    notifier_account = NOTIFIER_SERVICE_ACCOUNT
    api_account = API_SERVICE_ACCOUNT

    def __init__(self, api: KubeAPI, *, namespace: str = BUS_NAMESPACE) -> None:
        self.api = api
        self.namespace = namespace
        self._kubeconfigs: dict[str, Path] = {}
        self._emitters: list[Emitter] = []

    @property
    def url(self) -> str:
        return self.api.url

    def kubeconfig(self, service_account: str = NOTIFIER_SERVICE_ACCOUNT) -> Path:
        """A kubeconfig authenticating as ``service_account`` in the bus namespace."""
        if service_account not in self._kubeconfigs:
            self._kubeconfigs[service_account] = self.api.kubeconfig_for(
                self.namespace, service_account
            )
        return self._kubeconfigs[service_account]

    def notifier_env(
        self, service_account: str = NOTIFIER_SERVICE_ACCOUNT, *, job_name: str = "test-job"
    ) -> dict[str, str]:
        """What a notifier Job's pod gets: its kubeconfig, the bus namespace, its Job name."""
        return {
            "KUBECONFIG": str(self.kubeconfig(service_account)),
            "PUSHSVC_BUS_NAMESPACE": self.namespace,
            "PUSHSVC_JOB_NAME": job_name,
        }

    def use_as_notifier(
        self,
        monkeypatch: pytest.MonkeyPatch,
        service_account: str = NOTIFIER_SERVICE_ACCOUNT,
        *,
        job_name: str = "test-job",
    ) -> None:
        """Point ``emitter.notify()`` in this process at the emulator, for this test only.

        Sets :meth:`notifier_env` with ``monkeypatch`` and gives ``emitter.notify()`` an
        Emitter built from that environment (``emitter.notify()`` otherwise keeps the first
        one it built in the process, pointed at whatever the first test used). The Emitter
        is closed by :meth:`close`.
        """
        from emitter import client as emitter_client

        for name, value in self.notifier_env(service_account, job_name=job_name).items():
            monkeypatch.setenv(name, value)
        em = emitter_client.Emitter()
        self._emitters.append(em)
        monkeypatch.setattr(emitter_client, "_default", em)

    def close(self) -> None:
        """Close the Emitters :meth:`use_as_notifier` made (the emulator is the caller's)."""
        while self._emitters:
            self._emitters.pop().close()

    def events(self, *, channel: str = DEFAULT_CHANNEL) -> list[dict[str, Any]]:
        """The bus Events of ``channel`` in the namespace, oldest first (read as admin)."""
        query = urllib.parse.urlencode({"labelSelector": f"pushsvc.io/channel={channel}"})
        request = urllib.request.Request(
            f"{self.api.url}/api/v1/namespaces/{self.namespace}/events?{query}",
            headers={"Authorization": f"Bearer {self.api.admin_token()}"},
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            items: list[dict[str, Any]] = json.loads(resp.read())["items"]
        return sorted(items, key=lambda e: int(e["metadata"]["resourceVersion"]))

    def messages(self, *, channel: str = DEFAULT_CHANNEL) -> list[Message]:
        """Every message published on ``channel``, oldest first, decoded as the pods decode it."""
        from emitter.codec import decode_event

        return [m for event in self.events(channel=channel)
                for m in decode_event(event).messages]

    def fault(self, kind: str, **params: Any) -> dict[str, Any]:
        """Inject a fault (``429``, ``stall``, ``drop_watches``, ``compact``); see ``KubeAPI``."""
        return self.api.fault(kind, **params)

    def rate_limit(self, rate: float | None, *, burst: int | None = None,
                   retry_after: int | None = None,
                   service_account: str = NOTIFIER_SERVICE_ACCOUNT) -> dict[str, Any]:
        """API Priority and Fairness for a ServiceAccount of the bus namespace (the notifier
        by default): past ``rate`` requests/s (and ``burst``) it gets APF's 429 with
        ``Retry-After``; ``None`` lifts it. See ``KubeAPI.rate_limit``."""
        from pushsvc.testing.kubeapi import serviceaccount_user

        return self.api.rate_limit(serviceaccount_user(self.namespace, service_account), rate,
                                   burst=burst, retry_after=retry_after)

    def apf_stats(self, service_account: str = NOTIFIER_SERVICE_ACCOUNT) -> dict[str, Any]:
        """``allowed``, ``throttled`` and ``early_retries`` (a request repeated before its
        429's Retry-After ran out) of that ServiceAccount since its limit was set."""
        from pushsvc.testing.kubeapi import serviceaccount_user

        stats: dict[str, Any] = self.api.apf_stats().get(
            serviceaccount_user(self.namespace, service_account), {})
        return stats

