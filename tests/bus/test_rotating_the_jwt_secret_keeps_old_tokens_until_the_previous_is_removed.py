"""Rotating the HS256 JWT secret drops nobody, and the old secret stops working once removed.

A rolling update leaves pods with different settings side by side on one bus: pod 0 still
has only the old secret, pod 1 the new one with ``PUSHSVC_JWT_SECRET_PREVIOUS`` set to the old
one, pod 2 the new one alone (the last step, once no token signed with the old secret can be
unexpired). A real socket.io-client 4.x from Node, connected with a token signed by the old
secret, gets a notification to its user on pod 0, loses its pod, reconnects to pod 1 with the
same token and is notified there too; pod 2 refuses that token with ``token_invalid`` and
accepts one signed by the new secret.
"""

from __future__ import annotations

import shutil

from emitter import Emitter
from tests.bus.cluster import Cluster
from tests.deploy.recovery import NodeClient
from tests.support.tokens import Tokens

NODE = shutil.which("node") or "node"
OLD = "rotation-old-jwt-secret-" + "o" * 24
NEW = "rotation-new-jwt-secret-" + "n" * 24


def _jwt(secret: str, previous: str | None = None) -> dict[str, str]:
    env = {"PUSHSVC_AUTH_MODE": "jwt", "PUSHSVC_JWT_SECRET": secret}
    if previous is not None:
        env["PUSHSVC_JWT_SECRET_PREVIOUS"] = previous
    return env


def _notify_alice(cluster: Cluster, text: str) -> None:
    with Emitter(kubeconfig=str(cluster.notifier_kubeconfig),
                 bus_namespace=cluster.namespace) as em:
        em.notify("nuke_response", {"data": text}, user="alice")


def test_a_token_signed_with_the_old_secret_moves_to_a_new_pod_until_the_previous_is_removed(
    kubeapi_factory, cluster_factory,
):
    api = kubeapi_factory()
    cluster = cluster_factory(api, pods=0)  # each pod with its own secrets
    cluster.add_pod(_jwt(OLD))  # pod 0: not rolled yet
    cluster.add_pod(_jwt(NEW, previous=OLD))  # pod 1: rolled, the old secret still verifies
    cluster.add_pod(_jwt(NEW))  # pod 2: the previous secret removed
    cluster.wait_all_watching()
    old_token = Tokens(OLD).mint("alice", aud=None, iss=None)
    new_token = Tokens(NEW).mint("alice", aud=None, iss=None)

    client = NodeClient(NODE, cluster.pods[0].url, transport="websocket", manual=True)
    try:
        client.send(f"token {old_token}")
        client.send("reconnect")
        client.wait_for("connect")
        _notify_alice(cluster, "on the old pod")
        client.wait_for("msg", data="on the old pod")

        client.send("drop")  # its pod goes away in the rolling update
        client.wait_for("disconnect")
        client.send(f"url {cluster.pods[1].url}")
        client.send("reconnect")
        client.wait_for("connect")  # the same token, on a pod with the new secret
        _notify_alice(cluster, "on the new pod")
        client.wait_for("msg", data="on the new pod")
        assert cluster.metric(1, 'pushsvc_previous_secret_verified_total{secret="jwt"}') >= 1

        client.send("drop")
        client.wait_for("disconnect")
        client.send(f"url {cluster.pods[2].url}")
        client.send("reconnect")
        assert client.wait_for("connect_error")["message"] == "token_invalid"

        client.send(f"token {new_token}")  # what the application mints after the switch
        client.send("reconnect")
        client.wait_for("connect")
        _notify_alice(cluster, "after the rotation")
        client.wait_for("msg", data="after the rotation")
        client.drain(quiet=0.3)
        assert [m["data"] for m in client.messages("") if m["data"] != "Connected"] == [
            "on the old pod", "on the new pod", "after the rotation"]
        assert cluster.metric(2, 'pushsvc_previous_secret_verified_total{secret="jwt"}') == 0
    finally:
        client.close()
