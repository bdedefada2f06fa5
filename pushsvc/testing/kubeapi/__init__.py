"""A Kubernetes API emulator (core/v1 Events, coordination.k8s.io/v1 Leases) for tests of
pushsvc and of its users' code.

No real kube-apiserver runs on a developer's machine or in most CI jobs, so this package serves
the part of the API pushsvc uses, faithfully enough (each fact proven in this project's
tests/emulator/, see its README) that code proven against it works against a cluster: watch
framing, one resourceVersion counter, compaction 410s, TTL, selectors, deletes with
preconditions, Leases with optimistic concurrency (leader election), RBAC with resourceNames and
the real 403 bodies, kubectl tables, persistence across restarts, API Priority and Fairness
429s per user (``rate_limit``, :mod:`.apf`), and fault injection.

>>> with start_kubeapi(rbac_dir=shipped_rbac_dir()) as api:  # doctest: +SKIP
...     kubeconfig = api.kubeconfig_for("pushsvc", "pushsvc-notifier")
...     api.fault("429", count=2, retry_after=1)

Run it as a process with ``python -m pushsvc.testing.kubeapi --port 0 --kubeconfig-out FILE``.
It needs the ``pushsvc[testing]`` extra (gevent, orjson, PyYAML), not the server.
"""

from __future__ import annotations

from .handle import KubeAPI, serviceaccount_user, start_kubeapi

__all__ = ["KubeAPI", "serviceaccount_user", "start_kubeapi"]
