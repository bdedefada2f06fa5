"""A Kubernetes API emulator (core/v1 Events) for pushsvc's tests, demo and benchmarks.

No real kube-apiserver can run on the test machines, so this package serves the part of the API
pushsvc uses, faithfully enough (see shared/kubernetes-facts.md beside this repository and
tests/emulator/README.md) that code proven against it works against a cluster.
"""

from __future__ import annotations

from .handle import KubeAPI, start_kubeapi

__all__ = ["KubeAPI", "start_kubeapi"]
