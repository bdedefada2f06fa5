"""rbac/ loaded into the Kubernetes API emulator grants exactly what the design says.

pushsvc-api may list, watch, create and delete events in the bus namespace, get the one
janitor Lease, create Leases (RBAC cannot narrow create by name) and list, watch and update
Leases (presence: one Lease per pod, names unknown in advance), and nothing else;
pushsvc-notifier may only create events. Checked over HTTP with the official
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
RESOURCES = [("", "events"), ("", "pods"), ("", "secrets"), ("", "configmaps"),
             ("", "serviceaccounts"), ("coordination.k8s.io", "leases")]
LEASE = "pushsvc-janitor"
NAMES = [None, LEASE, "another-lease"]


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


def test_the_api_service_account_can_delete_events_with_a_precondition(
        rbac_kubeapi: Any) -> None:
    api = _api(rbac_kubeapi, "pushsvc-api")
    created = api.create_namespaced_event(NS, _event("rbac-api-3"))
    stale = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version="1"))
    with pytest.raises(ApiException) as info:
        api.delete_namespaced_event("rbac-api-3", NS, body=stale)
    assert info.value.status == 409
    api.delete_namespaced_event("rbac-api-3", NS, body=client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=created.metadata.resource_version)))
    assert "rbac-api-3" not in [e.metadata.name for e in api.list_namespaced_event(NS).items]


def _leases(handle: Any, service_account: str) -> client.CoordinationV1Api:
    path = handle.kubeconfig_for(NS, service_account)
    return client.CoordinationV1Api(config.new_client_from_config(config_file=str(path)))


def _lease(name: str) -> client.V1Lease:
    return client.V1Lease(metadata=client.V1ObjectMeta(name=name, namespace=NS),
                          spec=client.V1LeaseSpec(holder_identity="rbac-test",
                                                  lease_duration_seconds=15))


def test_the_api_service_account_reads_only_the_janitor_lease_and_never_deletes_one(
        rbac_kubeapi: Any) -> None:
    leases = _leases(rbac_kubeapi, "pushsvc-api")
    leases.create_namespaced_lease(NS, _lease(LEASE))
    lease = leases.read_namespaced_lease(LEASE, NS)
    lease.spec.holder_identity = "rbac-test-2"
    assert leases.replace_namespaced_lease(LEASE, NS, lease).spec.holder_identity == "rbac-test-2"
    # create cannot be narrowed by resourceNames, so another Lease can be created...
    leases.create_namespaced_lease(NS, _lease("another-lease"))
    # ...and updated and listed (presence Leases are per pod), but never read by name,
    # patched or deleted; the janitor Lease cannot be deleted.
    other = leases.replace_namespaced_lease("another-lease", NS, _lease("another-lease"))
    assert other.spec.holder_identity == "rbac-test"
    assert {i.metadata.name for i in leases.list_namespaced_lease(NS).items} >= {
        LEASE, "another-lease"}
    body = _forbidden(leases.read_namespaced_lease, "another-lease", NS)
    assert body == (
        'leases.coordination.k8s.io "another-lease" is forbidden: User '
        '"system:serviceaccount:pushsvc:pushsvc-api" cannot get resource "leases" in API group '
        '"coordination.k8s.io" in the namespace "pushsvc"')
    _forbidden(leases.patch_namespaced_lease, LEASE, NS, {"spec": {"holderIdentity": "x"}})
    _forbidden(leases.delete_namespaced_lease, LEASE, NS)
    _forbidden(leases.delete_namespaced_lease, "another-lease", NS)
    _forbidden(leases.list_namespaced_lease, OTHER_NS)
    _forbidden(leases.create_namespaced_lease, OTHER_NS, _lease(LEASE))


def test_the_notifier_cannot_touch_leases(rbac_kubeapi: Any) -> None:
    leases = _leases(rbac_kubeapi, "pushsvc-notifier")
    _forbidden(leases.read_namespaced_lease, LEASE, NS)
    _forbidden(leases.create_namespaced_lease, NS, _lease("notifier-lease"))


def test_the_api_service_account_can_do_nothing_else(rbac_kubeapi: Any) -> None:
    api = _api(rbac_kubeapi, "pushsvc-api")
    api.create_namespaced_event(NS, _event("rbac-api-2"))
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


_API_GRANTS = {
    *((verb, "events", NS, name) for verb in ("list", "watch", "create", "delete")
      for name in NAMES),
    # resourceNames narrow get to the janitor Lease; a create request carries no name
    # for resourceNames to match, so the create rule has none and allows any Lease; presence
    # updates its own Lease (named after the pod: unknown in advance) and list+watches them.
    ("get", "leases", NS, LEASE),
    *((verb, "leases", NS, name) for verb in ("create", "list", "watch", "update")
      for name in NAMES),
}
_NOTIFIER_GRANTS = {("create", "events", NS, name) for name in NAMES}


@pytest.mark.parametrize(
    ("service_account", "granted"),
    [("pushsvc-api", _API_GRANTS), ("pushsvc-notifier", _NOTIFIER_GRANTS)],
)
def test_the_rbac_files_grant_exactly_these_verbs_in_the_bus_namespace_only(
    service_account: str, granted: set[tuple[str, str, str, str | None]]
) -> None:
    authz = _authorizer()
    user = user_for(f"system:serviceaccount:{NS}:{service_account}")
    allowed = {
        (verb, resource, ns, name)
        for verb, (group, resource), ns, name in itertools.product(
            VERBS, RESOURCES, [NS, OTHER_NS, None], NAMES)
        if authz.allowed(user, verb, ns, resource, group, name)
    }
    assert allowed == granted
    assert not authz.cluster_roles
    assert all(binding.namespace == NS for binding in authz.bindings)
