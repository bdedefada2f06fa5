"""RBAC for the Job notifier, enforced by the emulator: with manifests/job-notify the API pods'
ServiceAccount may list and watch Jobs in the bus namespace and nothing else (no get, create,
status update, delete, nor another namespace); without it, the emulator's 403 names the verb,
resource, group and namespace, and the pod's log says which file grants it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from pushsvc.testing.kubeapi import KubeAPI, start_kubeapi
from tests.bus.cluster import NAMESPACE
from tests.jobs.conftest import JOB_ENV, RBAC_TEXT
from tests.support.pushsvc_proc import REPO_ROOT, start_pushsvc
from tests.support.sio_client import wait_until

pytestmark = pytest.mark.server  # it starts its processes itself

WITHOUT_COMPONENT = "\n---\n".join(
    (REPO_ROOT / "rbac" / name).read_text() for name in ("api.yaml", "notifier.yaml"))


@pytest.fixture
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPI]:
    with start_kubeapi(tmp_path_factory.mktemp("kubeapi-job-rbac")) as handle:
        yield handle


def _batch(api: KubeAPI) -> client.BatchV1Api:
    path = api.kubeconfig_for(NAMESPACE, "pushsvc-api")
    return client.BatchV1Api(config.new_client_from_config(config_file=str(path)))


def _status(call: object, *args: object, **kwargs: object) -> tuple[int, str]:
    try:
        call(*args, **kwargs)  # type: ignore[operator]
    except ApiException as exc:
        return int(exc.status), str(json.loads(exc.body or "{}").get("message", ""))
    return 200, ""


def test_the_component_grants_list_and_watch_on_jobs_in_the_bus_namespace_only(
        api: KubeAPI) -> None:
    api.set_rbac(RBAC_TEXT)
    jobs = _batch(api)
    assert _status(jobs.list_namespaced_job, NAMESPACE, label_selector="a=b") == (200, "")
    assert _status(jobs.list_namespaced_job, NAMESPACE, watch=True, timeout_seconds=1,
                   _preload_content=False)[0] == 200
    job = client.V1Job(metadata=client.V1ObjectMeta(name="x"), spec=client.V1JobSpec(
        template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            restart_policy="Never", containers=[client.V1Container(name="c", image="i")]))))
    for call, args in ((jobs.read_namespaced_job, ("x", NAMESPACE)),
                       (jobs.create_namespaced_job, (NAMESPACE, job)),
                       (jobs.patch_namespaced_job_status, ("x", NAMESPACE, {"status": {}})),
                       (jobs.delete_namespaced_job, ("x", NAMESPACE)),
                       (jobs.list_namespaced_job, ("default",))):
        assert _status(call, *args)[0] == 403, call
    code, message = _status(jobs.patch_namespaced_job_status, "x", NAMESPACE, {"status": {}})
    assert message == ('jobs.batch "x" is forbidden: User "system:serviceaccount:pushsvc:'
                       'pushsvc-api" cannot patch resource "jobs/status" in API group "batch" '
                       'in the namespace "pushsvc"')


def test_without_the_component_the_pod_names_the_missing_grant(api: KubeAPI) -> None:
    api.set_rbac(WITHOUT_COMPONENT)
    code, message = _status(_batch(api).list_namespaced_job, NAMESPACE)
    assert code == 403
    assert message == ('jobs.batch is forbidden: User "system:serviceaccount:pushsvc:'
                       'pushsvc-api" cannot list resource "jobs" in API group "batch" in the '
                       'namespace "pushsvc"')
    env = {**JOB_ENV, "PUSHSVC_KUBECONFIG": str(api.kubeconfig_for(NAMESPACE, "pushsvc-api")),
           "PUSHSVC_POD_NAME": "pushsvc-0"}
    pod = start_pushsvc(env=env, log_dir=REPO_ROOT / "artifacts" / "jobs" / "rbac")
    try:
        wait_until(lambda: "job notifier forbidden" in pod.read_log(), timeout=30,
                   what="the job notifier's 403 in the log")
        log = pod.read_log()
        assert ("cannot list jobs (API group batch) in namespace 'pushsvc'; apply "
                "manifests/job-notify") in log
        assert message in log  # the API server's own words
        assert log.count("job notifier forbidden") == 1  # logged once, however often retried
    finally:
        pod.stop()
