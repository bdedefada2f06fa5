"""A notifier Job in its own namespace reaches browsers, and can do nothing else.

The full overlay (``manifests/overlays/full``: bus namespace ``myteam``, the remote-notifier
component) is rendered with ``kubectl kustomize`` and that very output is the emulator's RBAC.
A real pod runs as ``myteam/pushsvc-api`` watching the bus; a python-socketio client is
connected to it. ``pushsvc-notify`` as the remote ServiceAccount the component binds
(``batch/report-notifier``, from ``manifests/remote-notifier/batch``) reaches the client; with
the kubernetes client that ServiceAccount cannot list, watch, get or delete events, nor create
them anywhere but the bus namespace (the emulator has no SelfSubjectAccessReview, so these are
the real calls). A ServiceAccount of another namespace that is not bound gets a 403 whose
message names the component to apply.
"""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from pushsvc.testing.kubeapi import KubeAPI, start_kubeapi
from pushsvc.testing.procs import console_script
from tests.deploy.conftest import REPO_ROOT, kustomize
from tests.support.pushsvc_proc import PushsvcProcess, start_pushsvc
from tests.support.sio_client import RecordingClient, wait_until

MANIFESTS = REPO_ROOT / "manifests"
Obj = dict[str, Any]


def _one(objs: list[Obj], kind: str, name: str) -> Obj:
    [found] = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


@pytest.fixture(scope="module")
def rendered() -> list[Obj]:
    return kustomize(MANIFESTS / "overlays" / "full")


@pytest.fixture(scope="module")
def bus_namespace(rendered: list[Obj]) -> str:
    return str(_one(rendered, "Deployment", "pushsvc")["metadata"]["namespace"])


@pytest.fixture(scope="module")
def remote(rendered: list[Obj]) -> tuple[str, str]:
    """(namespace, name) of the remote notifier: its own side's Job, which the bus binds."""
    side = kustomize(MANIFESTS / "remote-notifier" / "batch")
    job = next(o for o in side if o["kind"] == "Job")
    account = (job["metadata"]["namespace"], job["spec"]["template"]["spec"]["serviceAccountName"])
    [subject] = _one(rendered, "RoleBinding", "pushsvc-remote-notifier")["subjects"]
    assert (subject["namespace"], subject["name"]) == account
    return account


@pytest.fixture(scope="module")
def kubeapi(rendered: list[Obj], tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPI]:
    workdir = tmp_path_factory.mktemp("remote-notifier")
    path = workdir / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(rendered))
    with start_kubeapi(workdir / "kubeapi", rbac_dir=path) as api:
        yield api


@pytest.fixture(scope="module")
def pod(kubeapi: KubeAPI, bus_namespace: str,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushsvcProcess]:
    workdir = tmp_path_factory.mktemp("pod")
    env = {
        "PUSHSVC_BUS": "kubernetes",
        "PUSHSVC_KUBECONFIG": str(kubeapi.kubeconfig_for(bus_namespace, "pushsvc-api")),
        "PUSHSVC_BUS_NAMESPACE": bus_namespace,
        "PUSHSVC_POD_NAMESPACE": bus_namespace,
        "PUSHSVC_POD_NAME": "pushsvc-0",
        "PUSHSVC_SHUTDOWN_GRACE_SECONDS": "3",
    }
    proc = start_pushsvc(env=env, log_dir=workdir, cwd=workdir)
    try:
        wait_until(lambda: _status(f"{proc.url}/readyz") == 200, timeout=30,
                   what="the pod's bus watch in the overlay's namespace")
        yield proc
    finally:
        proc.stop()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except OSError:
        return 0


def _notify(kubeapi: KubeAPI, account: tuple[str, str], bus_namespace: str,
            data: str) -> subprocess.CompletedProcess[str]:
    """``pushsvc-notify`` with the environment the remote Job's pod gets."""
    namespace, name = account
    env = {
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": str(kubeapi.kubeconfig_for(namespace, name)),
        "PUSHSVC_BUS_NAMESPACE": bus_namespace,
        "PUSHSVC_POD_NAMESPACE": namespace,
        "PUSHSVC_POD_NAME": "pushsvc-notify-report-x1",
        "PUSHSVC_JOB_NAME": "pushsvc-notify-report",
    }
    return subprocess.run(
        [console_script("pushsvc-notify"), "--event", "nuke_response", "--data",
         f'{{"data": "{data}"}}'],
        env=env, capture_output=True, text=True, timeout=60, check=False)


def _core(kubeapi: KubeAPI, account: tuple[str, str]) -> client.CoreV1Api:
    path = kubeapi.kubeconfig_for(*account)
    return client.CoreV1Api(config.new_client_from_config(config_file=str(path)))


def _event(namespace: str, name: str) -> client.CoreV1Event:
    return client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace),
        involved_object=client.V1ObjectReference(kind="Pod", name="x", namespace=namespace),
        reason="Test", message="test", type="Normal")


def _forbidden(call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(ApiException) as info:
        call(*args, **kwargs)
    assert info.value.status == 403, info.value.body


def test_the_remote_notifier_reaches_a_browser_on_a_pod_in_the_bus_namespace(
        kubeapi: KubeAPI, pod: PushsvcProcess, remote: tuple[str, str],
        bus_namespace: str) -> None:
    assert remote[0] != bus_namespace
    browser = RecordingClient(transports=["websocket"]).connect(pod.url)
    try:
        browser.wait_for(predicate=lambda p: p.get("data") == "Connected")
        done = _notify(kubeapi, remote, bus_namespace, "report 1 ready")
        assert done.returncode == 0, done.stderr
        browser.wait_for_reply("report 1 ready")
    finally:
        browser.close()


def test_the_remote_notifier_cannot_read_delete_or_create_elsewhere(
        kubeapi: KubeAPI, pod: PushsvcProcess, remote: tuple[str, str],
        bus_namespace: str) -> None:
    api = _core(kubeapi, remote)
    api.create_namespaced_event(bus_namespace, _event(bus_namespace, "remote-1"))
    _forbidden(api.list_namespaced_event, bus_namespace)
    _forbidden(api.read_namespaced_event, "remote-1", bus_namespace)
    _forbidden(api.delete_namespaced_event, "remote-1", bus_namespace)
    _forbidden(api.delete_collection_namespaced_event, bus_namespace)
    _forbidden(api.patch_namespaced_event, "remote-1", bus_namespace, {"message": "x"})
    with pytest.raises(ApiException) as info:
        for _ in watch.Watch().stream(api.list_namespaced_event, bus_namespace,
                                      timeout_seconds=1, _request_timeout=(5, 10)):
            pass
    assert info.value.status == 403
    # Nowhere else, its own namespace included, and nothing cluster-wide.
    for namespace in (remote[0], "default", "pushsvc"):
        _forbidden(api.create_namespaced_event, namespace, _event(namespace, "remote-2"))
    _forbidden(api.list_event_for_all_namespaces)


def test_the_bus_namespaces_own_notifier_still_works_after_the_namespace_moved(
        kubeapi: KubeAPI, pod: PushsvcProcess, bus_namespace: str) -> None:
    browser = RecordingClient(transports=["websocket"]).connect(pod.url)
    try:
        browser.wait_for(predicate=lambda p: p.get("data") == "Connected")
        done = _notify(kubeapi, (bus_namespace, "pushsvc-notifier"), bus_namespace, "local 1")
        assert done.returncode == 0, done.stderr
        browser.wait_for_reply("local 1")
    finally:
        browser.close()
    # The base's namespace is gone: nothing is granted in "pushsvc" any more.
    stale = _notify(kubeapi, ("pushsvc", "pushsvc-notifier"), "pushsvc", "stale")
    assert stale.returncode == 4


def test_an_unbound_service_account_of_another_namespace_is_told_to_apply_the_component(
        kubeapi: KubeAPI, remote: tuple[str, str], bus_namespace: str) -> None:
    done = _notify(kubeapi, (remote[0], "someone-else"), bus_namespace, "never")
    assert done.returncode == 4
    assert (f"forbidden: ServiceAccount {remote[0]}/someone-else cannot create events in "
            f"namespace {bus_namespace!r}; it is not in the bus namespace: apply "
            f"manifests/remote-notifier") in done.stderr
    assert (MANIFESTS / "remote-notifier" / "rolebinding.yaml").is_file()


def test_the_rendered_rbac_file_is_what_the_emulator_enforces(
        kubeapi: KubeAPI, rendered: list[Obj]) -> None:
    log = Path(kubeapi.log_path).read_text()
    roles = sum(o["kind"] == "Role" for o in rendered)
    bindings = sum(o["kind"] == "RoleBinding" for o in rendered)
    assert f"{roles} roles, 0 cluster roles, {bindings} bindings" in log
