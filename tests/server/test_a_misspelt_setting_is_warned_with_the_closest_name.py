"""A ``PUSHSVC_*`` variable no setting reads (``PUSHSVC_PORTT``) is warned about once at start,
with the closest setting's name; known notifier variables and Kubernetes' Service links of a
Service named pushsvc are not."""

from __future__ import annotations

from pathlib import Path

from pushsvc.settings import unknown_env_warnings
from tests.support import start_pushsvc


def test_serve_warns_once_about_a_misspelt_port(artifacts_dir: Path) -> None:
    with start_pushsvc(env={"PUSHSVC_PORTT": "8000"}, log_dir=artifacts_dir) as pod:
        log = pod.read_log()
    warning = ("WARNING pushsvc.cli: PUSHSVC_PORTT is not a pushsvc setting and is ignored "
               "(did you mean PUSHSVC_PORT?)")
    assert log.count(warning) == 1, log[-2000:]


def test_known_names_and_service_links_are_not_warned_about() -> None:
    env = {"PUSHSVC_PORT": "5000", "PUSHSVC_JOB_NAME": "nightly",
           "PUSHSVC_EMITTER_BATCH_WINDOW_SECONDS": "0.1", "PUSHSVC_SERVICE_HOST": "10.0.0.1",
           "PUSHSVC_SERVICE_PORT_HTTP": "5000", "PUSHSVC_PORT_5000_TCP_ADDR": "10.0.0.1",
           "PUSHSVC_METRICS_PORT": "tcp://10.0.0.2:9000", "HOME": "/home/app"}
    assert unknown_env_warnings(env) == []
    assert unknown_env_warnings({"PUSHSVC_ZZZ": "1"}) == [
        "PUSHSVC_ZZZ is not a pushsvc setting and is ignored"]
