"""Every metric the dashboard and the alert rules query is one a real pushsvc pod exports
(scraped from its /metrics), except those later work provides (named in NOT_YET_EXPORTED).
A renamed metric would otherwise leave an empty panel and an alert that can never fire."""

from __future__ import annotations

import json
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.monitoring.conftest import MONITORING, NOT_YET_EXPORTED, REPO_ROOT, metric_names
from tests.support import start_pushsvc, wait_until

RBAC = ["api.yaml", "notifier.yaml"]
_SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",),
             "histogram": ("_bucket", "_sum", "_count", "_created"),
             "summary": ("", "_sum", "_count", "_created"), "info": ("_info",)}


def exported_series(text: str) -> set[str]:
    """Series names /metrics can carry, from its families — also those without samples yet
    (a labelled counter shows only its HELP and TYPE until a first label value)."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + s for s in _SUFFIXES.get(family.type, ("",)))
    return names


def dashboard_exprs() -> str:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [json.dumps(v.get("query")) for v in dashboard["templating"]["list"]]
    return "\n".join(exprs)


def test_every_queried_metric_exists_on_a_real_pod(kubeapi, tmp_path):
    kubeapi.set_rbac("\n---\n".join((REPO_ROOT / "rbac" / f).read_text() for f in RBAC))
    env = {"PUSHSVC_BUS": "kubernetes", "PUSHSVC_BUS_NAMESPACE": "pushsvc",
           "PUSHSVC_KUBECONFIG": str(kubeapi.kubeconfig_for("pushsvc", "pushsvc-api"))}
    with start_pushsvc(env=env, log_dir=tmp_path / "logs") as pod:
        wait_until(lambda: kubeapi.stats()["open_watches"] >= 1, what="the pod's watch")
        with urllib.request.urlopen(f"{pod.url}/metrics", timeout=10) as resp:
            exported = exported_series(resp.read().decode())
    queried = metric_names(dashboard_exprs()) | metric_names(
        (MONITORING / "prometheusrule.yaml").read_text())
    missing = queried - exported - set(NOT_YET_EXPORTED)
    assert not missing, f"queried but not exported: {sorted(missing)}"
    landed = set(NOT_YET_EXPORTED) & exported
    assert not landed, f"now exported, drop from NOT_YET_EXPORTED: {sorted(landed)}"
    # The panels the operators were promised are all there.
    for name in ("pushsvc_connected_clients", "pushsvc_bus_lag_seconds_bucket",
                 "pushsvc_bus_publish_failures_total", "pushsvc_bus_watch_restarts_total",
                 "pushsvc_rejected_messages_total", "pushsvc_refused_connections_total",
                 "pushsvc_bus_live_events"):
        assert name in metric_names(dashboard_exprs()), name
