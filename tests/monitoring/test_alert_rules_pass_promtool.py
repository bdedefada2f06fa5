"""The alert rules are valid Prometheus rules and every alert has a promtool unit test that
shows it firing (and not firing) on made-up series."""

from __future__ import annotations

import yaml

from tests.monitoring.conftest import MONITORING, require_tool, run


def test_promtool_check_rules_accepts_the_rule_file(rules_dir):
    done = run([require_tool("promtool"), "check", "rules", "pushsvc.rules.yaml"], cwd=rules_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout


def test_promtool_unit_tests_pass(rules_dir):
    done = run([require_tool("promtool"), "test", "rules", "alerts_test.yaml"], cwd=rules_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_unit_test_where_it_fires():
    rules = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())["spec"]
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((MONITORING / "alerts_test.yaml").read_text())["tests"]
    fired = {case["alertname"] for t in tests for case in t["alert_rule_test"]
             if case["exp_alerts"]}
    assert alerts == fired
    assert {"PushsvcBusWatchDown", "PushsvcBusLagHigh", "PushsvcBusPublishFailures",
            "PushsvcJanitorNotRunning"} <= alerts


def test_promtool_unit_tests_catch_a_broken_rule(rules_dir):
    rule_file = rules_dir / "pushsvc.rules.yaml"
    rule_file.write_text(rule_file.read_text().replace("> 2", "> 20"))  # lag threshold
    done = run([require_tool("promtool"), "test", "rules", "alerts_test.yaml"], cwd=rules_dir)
    assert done.returncode != 0
    assert "PushsvcBusLagHigh" in done.stdout + done.stderr
