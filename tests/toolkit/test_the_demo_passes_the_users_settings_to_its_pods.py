"""``pushsvc demo`` hands the user's PUSHSVC_* settings to every pod, except the topology's own.

The address, bus and pod identity are per pod and chosen by the topology; everything else
(allowed origins, auth token, limits, reply event) is the user's to set.
"""

from __future__ import annotations

from pushsvc.run.demo import TOPOLOGY_SETTINGS, user_pod_env


def test_the_users_settings_pass_and_the_topologys_own_are_ignored_by_name() -> None:
    environ = {
        "PUSHSVC_CORS_ALLOWED_ORIGINS": "http://intranet.example:8080",
        "PUSHSVC_AUTH_TOKEN": "secret",
        "PUSHSVC_POD_NAME": "mine",
        "PUSHSVC_PORT": "9999",
        "PUSHSVC_BUS": "memory",
        "HOME": "/home/user",
    }
    passed, ignored = user_pod_env(environ)
    assert passed == {
        "PUSHSVC_CORS_ALLOWED_ORIGINS": "http://intranet.example:8080",
        "PUSHSVC_AUTH_TOKEN": "secret",
    }
    assert ignored == ["PUSHSVC_BUS", "PUSHSVC_POD_NAME", "PUSHSVC_PORT"]
    assert set(ignored) <= TOPOLOGY_SETTINGS
