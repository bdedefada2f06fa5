"""Configuration comes from arguments or the environment; none at all is a clear error."""

from __future__ import annotations

import pytest

from emitter import ConfigError, Emitter


def test_no_in_cluster_config_and_no_kubeconfig_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="no Kubernetes configuration: not running in a pod"):
        Emitter()


def test_a_missing_explicit_kubeconfig_is_named(tmp_path):
    with pytest.raises(ConfigError, match="kubeconfig .*nope does not exist"):
        Emitter(kubeconfig=str(tmp_path / "nope"))


def test_namespace_and_channel_come_from_the_environment(monkeypatch, kubeapi):
    monkeypatch.setenv("PUSHSVC_BUS_NAMESPACE", "from-env")
    monkeypatch.setenv("PUSHSVC_BUS_CHANNEL", "chan-1")
    with Emitter(kubeconfig=str(kubeapi.kubeconfig)) as em:
        assert (em.bus_namespace, em.channel) == ("from-env", "chan-1")


def test_a_channel_that_is_not_a_label_value_is_refused(kubeapi):
    with pytest.raises(ConfigError, match="not a valid label value"):
        Emitter(kubeconfig=str(kubeapi.kubeconfig), channel="no spaces/allowed")
