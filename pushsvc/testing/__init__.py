"""pushsvc's test toolkit (``pip install 'pushsvc[testing]'``), for this project and its users.

- :mod:`pushsvc.testing.kubeapi` — the Kubernetes API emulator: ``start_kubeapi()``,
  ``python -m pushsvc.testing.kubeapi --port 0 --kubeconfig-out FILE``.
- :mod:`pushsvc.testing.cluster` — ``EmulatedCluster``: the emulator as pushsvc's namespace
  and ServiceAccounts, with the bus messages decoded.
- :mod:`pushsvc.testing.topology` — ``LocalTopology``: N ``pushsvc serve`` pods on the Events
  bus behind HAProxy running the shipped config (what ``pushsvc demo`` runs).
- :mod:`pushsvc.testing.procs` — the process helpers: free ports, ``start_pushsvc``, stopping
  a process group, ``wait_until``.
- :mod:`pushsvc.testing.recorder` — ``RecordingTransport``: an Emitter's Events kept in the
  test process and decoded, no API server.
- :mod:`pushsvc.testing.plugin` — the pytest plugin (fixtures ``kube_api``, ``push_topology``,
  ``recorded_notifications``).

The server never imports this package; only ``pushsvc demo``, tests and benchmarks do. Names
are loaded on first use, so that pytest loading the plugin costs nothing and a missing extra
only matters to the code that needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "KubeAPI": "pushsvc.testing.kubeapi",
    "start_kubeapi": "pushsvc.testing.kubeapi",
    "serviceaccount_user": "pushsvc.testing.kubeapi",
    "EmulatedCluster": "pushsvc.testing.cluster",
    "LocalTopology": "pushsvc.testing.topology",
    "TopologyError": "pushsvc.testing.topology",
    "LIFTED_CLIENT_LIMITS": "pushsvc.testing.procs",
    "PushsvcProcess": "pushsvc.testing.procs",
    "PushsvcStartError": "pushsvc.testing.procs",
    "free_port": "pushsvc.testing.procs",
    "start_pushsvc": "pushsvc.testing.procs",
    "stop_process": "pushsvc.testing.procs",
    "wait_until": "pushsvc.testing.procs",
    "Notification": "pushsvc.testing.recorder",
    "RecordingFullError": "pushsvc.testing.recorder",
    "RecordingTransport": "pushsvc.testing.recorder",
    "shipped_haproxy_cfg": "pushsvc.testing.shipped",
    "shipped_rbac_dir": "pushsvc.testing.shipped",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pushsvc.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
