"""Where the bus lives and how to reach the API: arguments first, then the environment.

In a pod the mounted ServiceAccount is used (in-cluster config); elsewhere the kubeconfig
(``kubeconfig=``, ``$KUBECONFIG``, ``~/.kube/config``). Neither present is a clear error.
The notifier's own Pod (or Job) becomes the Events' ``involvedObject``; the downward API
provides it (``PUSHSVC_POD_NAME``, ``PUSHSVC_POD_UID``, ``PUSHSVC_JOB_NAME``), else
``$HOSTNAME`` — which Kubernetes sets to the pod name.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from emitter.codec import check_channel
from emitter.errors import ConfigError

logger = logging.getLogger(__name__)

ENV_NAMESPACE = "PUSHSVC_BUS_NAMESPACE"
ENV_CHANNEL = "PUSHSVC_BUS_CHANNEL"
ENV_BATCH_WINDOW = "PUSHSVC_EMITTER_BATCH_WINDOW_SECONDS"
DEFAULT_CHANNEL = "pushsvc"
_SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class ApiTarget:
    """A ready API client and where it came from (for logs and errors)."""

    api_client: k8s_client.ApiClient
    source: str  # "in-cluster" or "kubeconfig <path>"
    default_namespace: str | None


def in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (_SA_DIR / "token").exists()


def kubeconfig_path(explicit: str | None = None) -> str | None:
    """The kubeconfig that would be used, or None when there is none."""
    candidates = [explicit] if explicit else []
    env = os.environ.get("KUBECONFIG")
    if env and not explicit:
        candidates.extend(p for p in env.split(os.pathsep) if p)
    if not candidates:
        candidates.append(str(Path("~/.kube/config").expanduser()))
    for path in candidates:
        if Path(path).expanduser().is_file():
            return str(Path(path).expanduser())
    if explicit:
        raise ConfigError(f"kubeconfig {explicit} does not exist")
    if env:
        raise ConfigError(f"$KUBECONFIG names {env}, which does not exist (point it at a "
                          "kubeconfig, or unset it to use ~/.kube/config)")
    return None


def load_api_client(kubeconfig: str | None = None) -> ApiTarget:
    """An ``ApiClient`` whose urllib3 pool does not retry on its own (our loop retries)."""
    cfg = k8s_client.Configuration()
    if not kubeconfig and in_cluster_available():
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
        except k8s_config.ConfigException as exc:
            raise ConfigError(f"in-cluster configuration failed: {exc}") from exc
        ns_file = _SA_DIR / "namespace"
        ns = ns_file.read_text().strip() if ns_file.exists() else None
        source = "in-cluster ServiceAccount"
    else:
        path = kubeconfig_path(kubeconfig)
        if path is None:
            raise ConfigError(
                "no Kubernetes configuration: not running in a pod (no KUBERNETES_SERVICE_HOST "
                "and mounted ServiceAccount token) and no kubeconfig (set KUBECONFIG, pass "
                "kubeconfig=, or create ~/.kube/config)"
            )
        try:
            k8s_config.load_kube_config(config_file=path, client_configuration=cfg,
                                        persist_config=False)
            _, context = k8s_config.list_kube_config_contexts(config_file=path)
        except yaml.YAMLError as exc:
            raise ConfigError(f"kubeconfig {path} is not valid YAML: {_yaml_problem(exc)}"
                              ) from exc
        except (k8s_config.ConfigException, OSError, ValueError) as exc:
            raise ConfigError(f"kubeconfig {path} is not usable: {exc}") from exc
        ns = (context or {}).get("context", {}).get("namespace")
        source = f"kubeconfig {path}"
    cfg.retries = 0  # urllib3 must not retry behind our back: our loop owns retries
    return ApiTarget(k8s_client.ApiClient(cfg), source, ns)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error on one line: what and where (its own text spans several lines)."""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(f"{problem}{where}".split())


def resolve_namespace(explicit: str | None, target: ApiTarget | None, *,
                      environ: Mapping[str, str] | None = None) -> str:
    """The argument, else ``PUSHSVC_BUS_NAMESPACE``, else the kubeconfig's, else "default".

    :param environ: where the fallback is read; default ``os.environ``. The server passes
        ``{}``: its settings already read the environment, once.
    """
    env = os.environ if environ is None else environ
    ns = explicit or env.get(ENV_NAMESPACE) or (target.default_namespace if target
                                                else None) or "default"
    return ns


def resolve_channel(explicit: str | None, *, environ: Mapping[str, str] | None = None) -> str:
    """The argument, else ``PUSHSVC_BUS_CHANNEL``, else "pushsvc"; checked as a label value."""
    env = os.environ if environ is None else environ
    channel = explicit or env.get(ENV_CHANNEL) or DEFAULT_CHANNEL
    try:
        return check_channel(channel)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def resolve_batch_window(explicit: float | None) -> float:
    """Seconds of the emitter's batch window: the argument, else the environment, else 0."""
    if explicit is not None:
        value: float = explicit
    else:
        text = os.environ.get(ENV_BATCH_WINDOW, "").strip()
        try:
            value = float(text) if text else 0.0
        except ValueError as exc:
            raise ConfigError(f"{ENV_BATCH_WINDOW}={text!r} is not a number of seconds") from exc
    if not 0 <= value <= 60:
        raise ConfigError(f"the batch window must be 0 (off) to 60 seconds, not {value:g}")
    return value


def notifier_object(
    *, pod_name: str | None = None, pod_uid: str | None = None, job_name: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The involvedObject naming this process: its Job when known, else its Pod.

    Arguments first, then (``environ``, default ``os.environ``) the downward API's
    ``PUSHSVC_JOB_NAME``, ``PUSHSVC_POD_NAME``, ``$HOSTNAME``, ``PUSHSVC_POD_UID``.
    """
    env = os.environ if environ is None else environ
    job = job_name or env.get("PUSHSVC_JOB_NAME")
    if job:
        return {"kind": "Job", "apiVersion": "batch/v1", "name": job}
    name = (pod_name or env.get("PUSHSVC_POD_NAME") or env.get("HOSTNAME")
            or socket.gethostname())
    obj = {"kind": "Pod", "apiVersion": "v1", "name": name}
    uid = pod_uid or env.get("PUSHSVC_POD_UID")
    if uid:
        obj["uid"] = uid
    return obj
