"""API Priority and Fairness: a user past its configured rate gets APF's 429 on every verb.

What kube-apiserver's APF filter answers (kubernetes-facts.md): ``429 Too Many Requests``, a
``Retry-After`` header in whole seconds and the plain-text body of Go's ``http.Error`` — no
JSON Status. The emulator applies a token bucket per user name after authentication and
before authorization; ``system:masters`` is exempt; a watch spends a token when it opens and
is never cut once open; a request repeated before its Retry-After ran out is counted as an
early retry. Rates here are far below the test's own pace (0.01/s), so nothing depends on
timing.
"""

from __future__ import annotations

import pytest
import requests
import yaml
from kubernetes import client, config

from pushsvc.testing.kubeapi import KubeAPI, serviceaccount_user
from tests.emulator.conftest import Http, event

NS = "apf"
GRANT = f"""\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: events, namespace: {NS}}}
rules:
- apiGroups: [""]
  resources: [events]
  verbs: [get, list, watch, create, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: events, namespace: {NS}}}
subjects:
- {{kind: ServiceAccount, name: busy, namespace: {NS}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: events}}
"""
USER = serviceaccount_user(NS, "busy")
EVENTS = f"/api/v1/namespaces/{NS}/events"


@pytest.fixture
def busy(kubeapi: KubeAPI) -> Http:
    kubeapi.set_rbac(GRANT)
    doc = yaml.safe_load(kubeapi.kubeconfig_for(NS, "busy").read_text())
    return Http(kubeapi, doc["users"][0]["user"]["token"])


def _assert_apf_429(resp: requests.Response) -> int:
    assert resp.status_code == 429
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.text == "Too many requests, please try again later.\n"
    assert resp.headers["X-Kubernetes-PF-FlowSchema-UID"]
    assert resp.headers["X-Kubernetes-PF-PriorityLevel-UID"]
    retry = int(resp.headers["Retry-After"])
    assert retry >= 1
    return retry


def test_past_its_burst_every_verb_of_the_user_gets_apfs_429(
        kubeapi: KubeAPI, busy: Http, http: Http) -> None:
    kubeapi.rate_limit(USER, 0.01, burst=2)
    assert busy.get(EVENTS).status_code == 200
    assert busy.post(EVENTS, event(NS, "first")).status_code == 201
    # The bucket is empty: the next token is ~100 s away, and Retry-After says so.
    assert _assert_apf_429(busy.get(EVENTS)) >= 90
    _assert_apf_429(busy.post(EVENTS, event(NS, "second")))
    _assert_apf_429(busy.delete(f"{EVENTS}/first"))
    _assert_apf_429(busy.get(EVENTS, params={"watch": "true"}))
    _assert_apf_429(busy.get("/api/v1/namespaces/elsewhere/events"))  # before authorization
    # Other users, and system:masters above all, are not limited.
    assert http.get(EVENTS).status_code == 200
    stats = kubeapi.apf_stats()[USER]
    assert (stats["allowed"], stats["throttled"]) == (2, 5)
    assert kubeapi.stats()["apf"][USER]["throttled"] == 5
    kubeapi.rate_limit(USER, None)
    assert busy.get(EVENTS).status_code == 200


def test_the_official_client_gets_the_429_with_its_retry_after(kubeapi: KubeAPI) -> None:
    kubeapi.set_rbac(GRANT)
    api_client = config.new_client_from_config(
        config_file=str(kubeapi.kubeconfig_for(NS, "busy")))
    try:
        core = client.CoreV1Api(api_client)
        kubeapi.rate_limit(USER, 0.01, burst=1, retry_after=7)
        core.list_namespaced_event(NS)
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(name="x"),
            involved_object=client.V1ObjectReference(kind="Pod", name="p", namespace=NS))
        with pytest.raises(client.ApiException) as info:
            core.create_namespaced_event(NS, body)
        assert info.value.status == 429
        assert info.value.headers is not None and info.value.headers["Retry-After"] == "7"
        assert info.value.body == "Too many requests, please try again later.\n"
    finally:
        api_client.close()


def test_an_open_watch_is_never_cut_and_opening_one_spends_a_token(
        kubeapi: KubeAPI, busy: Http, http: Http) -> None:
    kubeapi.rate_limit(USER, 0.01, burst=1)
    watch = busy.watch(EVENTS, resourceVersion="1", timeoutSeconds=30)
    try:
        assert watch.resp.status_code == 200
        _assert_apf_429(busy.get(EVENTS))  # the watch took the only token
        for k in range(3):
            http.create(NS, event(NS, f"seen-{k}"))
        names = [line["object"]["metadata"]["name"] for line in watch.take(3)]
        assert names == ["seen-0", "seen-1", "seen-2"]
        assert not watch.ended.is_set()
    finally:
        watch.close()


def test_the_same_request_again_before_retry_after_is_an_early_retry(
        kubeapi: KubeAPI, busy: Http) -> None:
    kubeapi.rate_limit(USER, 0.01, burst=1, retry_after=60)
    assert busy.post(EVENTS, event(NS, "a")).status_code == 201
    _assert_apf_429(busy.post(EVENTS, event(NS, "b")))
    _assert_apf_429(busy.post(EVENTS, event(NS, "b")))  # b again, 60 s too early
    _assert_apf_429(busy.post(EVENTS, event(NS, "c")))  # another request: not a retry
    _assert_apf_429(busy.get(EVENTS, params={"limit": "1"}))
    _assert_apf_429(busy.get(EVENTS, params={"limit": "1", "timeoutSeconds": "5"}))
    stats = kubeapi.apf_stats()[USER]
    assert (stats["throttled"], stats["early_retries"]) == (5, 2)


def test_a_limit_given_at_start_holds_across_a_restart(kubeapi_factory) -> None:
    api: KubeAPI = kubeapi_factory(rate_limits={USER: (0.01, 1)})
    api.set_rbac(GRANT)
    token = yaml.safe_load(api.kubeconfig_for(NS, "busy").read_text())["users"][0]["user"]
    busy = Http(api, token["token"])
    assert busy.get(EVENTS).status_code == 200
    _assert_apf_429(busy.get(EVENTS))
    api.restart()
    assert busy.get(EVENTS).status_code == 200  # a fresh, full bucket
    _assert_apf_429(busy.get(EVENTS))


def test_the_exempt_admin_cannot_be_limited(kubeapi: KubeAPI) -> None:
    with pytest.raises(Exception, match="400"):
        kubeapi.rate_limit("system:admin", 1.0)
