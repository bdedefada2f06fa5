"""rbac/ loaded into the Kubernetes API emulator grants exactly what the design says.

pushsvc-api may list, watch and create events in the bus namespace and nothing else;
pushsvc-notifier may only create them. Checked over HTTP with the official
`kubernetes` client (the real 403 Status message), and exhaustively through the
emulator's RBAC evaluator for verbs and resources the emulator does not serve.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from pushsvc.testing.kubeapi import start_kubeapi
from pushsvc.testing.kubeapi.rbac import Authorizer, user_for
from tests.deploy.conftest import REPO_ROOT

NS = "pushsvc"
OTHER_NS = "default"
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
RESOURCES = ["events", "pods", "secrets", "configmaps", "serviceaccounts"]


@pytest.fixture(scope="module")
def rbac_kubeapi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    workdir = tmp_path_factory.mktemp("kubeapi-rbac")
    with start_kubeapi(workdir, rbac_dir=REPO_ROOT / "rbac") as handle:
        yield handle


def _api(handle: Any, service_account: str) -> client.CoreV1Api:
    path = handle.kubeconfig_for(NS, service_account)
    return client.CoreV1Api(config.new_client_from_config(config_file=str(path)))


def _event(name: str) -> client.CoreV1Event:
    return client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=name, namespace=NS),
        involved_object=client.V1ObjectReference(kind="Pod", name="rbac-test", namespace=NS),
        reason="RbacTest",
        message="rbac test",
        type="Normal",
    )


def _forbidden(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ApiException) as info:
        call(*args, **kwargs)
    assert info.value.status == 403, info.value.body
    return _message(info.value)


def _message(exc: ApiException) -> str:
    """The Status object's message, as kubectl would print it."""
    return str(json.loads(exc.body or "{}")["message"])


def test_the_api_service_account_can_list_watch_and_create_events(rbac_kubeapi: Any) -> None:
    api = _api(rbac_kubeapi, "pushsvc-api")
    created = api.create_namespaced_event(NS, _event("rbac-api-1"))
    assert created.metadata.name == "rbac-api-1"
    listed = api.list_namespaced_event(NS)
    assert listed.metadata is not None
    assert "rbac-api-1" in [e.metadata.name for e in listed.items]
    stream = watch.Watch().stream(
        api.list_namespaced_event, NS, resource_version=listed.metadata.resource_version,
        timeout_seconds=1, _request_timeout=(5, 10),
    )
    assert list(stream) == []  # the watch was allowed and ended at its timeout


def test_the_api_service_account_can_do_nothing_else(rbac_kubeapi: Any) -> None:
    api = _api(rbac_kubeapi, "pushsvc-api")
    api.create_namespaced_event(NS, _event("rbac-api-2"))
    body = _forbidden(api.delete_namespaced_event, "rbac-api-2", NS)
    assert 'cannot delete resource "events"' in body
    _forbidden(api.read_namespaced_event, "rbac-api-2", NS)
    _forbidden(api.patch_namespaced_event, "rbac-api-2", NS, {"message": "x"})
    _forbidden(api.delete_collection_namespaced_event, NS)
    body = _forbidden(api.list_namespaced_event, OTHER_NS)
    assert f'in the namespace "{OTHER_NS}"' in body
    _forbidden(api.create_namespaced_event, OTHER_NS, _event("elsewhere"))
    body = _forbidden(api.list_event_for_all_namespaces)
    assert "at the cluster scope" in body


def test_the_notifier_can_create_but_not_read_or_delete(rbac_kubeapi: Any) -> None:
    api = _api(rbac_kubeapi, "pushsvc-notifier")
    api.create_namespaced_event(NS, _event("rbac-notifier-1"))
    _forbidden(api.list_namespaced_event, NS)
    _forbidden(api.read_namespaced_event, "rbac-notifier-1", NS)
    _forbidden(api.delete_namespaced_event, "rbac-notifier-1", NS)
    _forbidden(api.create_namespaced_event, OTHER_NS, _event("elsewhere"))


def test_a_notifier_cannot_watch_and_gets_the_real_forbidden_message(rbac_kubeapi: Any) -> None:
    api = _api(rbac_kubeapi, "pushsvc-notifier")
    with pytest.raises(ApiException) as info:
        for _ in watch.Watch().stream(api.list_namespaced_event, NS, timeout_seconds=1,
                                      _request_timeout=(5, 10)):
            pass
    assert info.value.status == 403
    assert (
        'events is forbidden: User "system:serviceaccount:pushsvc:pushsvc-notifier" cannot '
        'watch resource "events" in API group "" in the namespace "pushsvc"'
    ) == _message(info.value)


def _authorizer() -> Authorizer:
    authz = Authorizer()
    authz.load_dir(Path(REPO_ROOT / "rbac"))
    return authz


@pytest.mark.parametrize(
    ("service_account", "granted"),
    [("pushsvc-api", {"list", "watch", "create"}), ("pushsvc-notifier", {"create"})],
)
def test_the_rbac_files_grant_exactly_these_verbs_on_events_in_the_bus_namespace_only(
    service_account: str, granted: set[str]
) -> None:
    authz = _authorizer()
    user = user_for(f"system:serviceaccount:{NS}:{service_account}")
    allowed = {
        (verb, resource, ns)
        for verb, resource, ns in itertools.product(VERBS, RESOURCES, [NS, OTHER_NS, None])
        if authz.allowed(user, verb, ns, resource)
    }
    assert allowed == {(verb, "events", NS) for verb in granted}
    assert not authz.cluster_roles
    assert all(binding.namespace == NS for binding in authz.bindings)
