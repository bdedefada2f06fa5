"""Kubeconfig files pointing at the emulator, for kubectl and ``config.load_kube_config``."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml


def write_kubeconfig(path: Path, *, server: str, token: str, namespace: str, user: str,
                     ca_pem: bytes | None = None) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubeapi", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "kubeapi", "context": {"cluster": "kubeapi", "user": user,
                                                      "namespace": namespace}}],
        "current-context": "kubeapi",
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def read_cluster(path: Path) -> tuple[str, bytes | None]:
    """(server, CA PEM) of a kubeconfig written by ``write_kubeconfig``."""
    doc = yaml.safe_load(path.read_text())
    cluster = doc["clusters"][0]["cluster"]
    ca = cluster.get("certificate-authority-data")
    return str(cluster["server"]), base64.b64decode(ca) if ca else None
