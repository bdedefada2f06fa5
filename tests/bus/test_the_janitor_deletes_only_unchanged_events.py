"""The janitor deletes by name with uid and resourceVersion preconditions: an Event updated or
re-created under the same name since the janitor listed it is not deleted (409 Conflict,
counted as conflict); one already gone is a 404, counted as gone. Both are normal during a
handover, when two janitors may work from the same list."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import config
from kubernetes.client import ApiClient

from emitter.codec import CHANNEL_LABEL
from pushsvc.bus.janitor import Janitor, JanitorOptions
from pushsvc.testing.kubeapi import KubeAPI
from tests.bus.cluster import NAMESPACE, RBAC_TEXT
from tests.bus.janitor_support import admin, create_event, event_exists


@pytest.fixture
def janitor(kubeapi: KubeAPI) -> Iterator[Janitor]:
    kubeapi.set_rbac(RBAC_TEXT)
    api_client: ApiClient = config.new_client_from_config(
        config_file=str(kubeapi.kubeconfig_for(NAMESPACE, "pushsvc-api")))
    yield Janitor(api_client, namespace=NAMESPACE, label_key=CHANNEL_LABEL, channel="pushsvc",
                  identity="test_1", options=JanitorOptions(retention_seconds=1))
    api_client.close()


def test_an_event_updated_since_the_list_is_not_deleted(kubeapi: KubeAPI,
                                                        janitor: Janitor) -> None:
    listed = create_event(kubeapi, "changed", channel="pushsvc")
    status, _ = admin(kubeapi, "PATCH", f"/api/v1/namespaces/{NAMESPACE}/events/changed",
                      {"message": "updated after the janitor listed it"})
    assert status == 200
    assert janitor.delete(listed) == "conflict"
    assert event_exists(kubeapi, "changed")


def test_an_event_recreated_under_the_same_name_is_not_deleted(kubeapi: KubeAPI,
                                                               janitor: Janitor) -> None:
    listed = create_event(kubeapi, "recreated", channel="pushsvc")
    assert admin(kubeapi, "DELETE", f"/api/v1/namespaces/{NAMESPACE}/events/recreated")[0] == 200
    create_event(kubeapi, "recreated", channel="pushsvc")
    assert janitor.delete(listed) == "conflict"
    assert event_exists(kubeapi, "recreated")


def test_an_unchanged_event_is_deleted_and_a_second_delete_is_gone(kubeapi: KubeAPI,
                                                                   janitor: Janitor) -> None:
    listed = create_event(kubeapi, "unchanged", channel="pushsvc")
    assert janitor.delete(listed) == "deleted"
    assert not event_exists(kubeapi, "unchanged")
    assert janitor.delete(listed) == "gone"  # what the second of two janitors sees
