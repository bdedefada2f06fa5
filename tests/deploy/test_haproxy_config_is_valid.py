"""`haproxy -c` accepts the shipped config and its local rendering."""

from __future__ import annotations

from pathlib import Path

from pushsvc.testing.topology import render_local_haproxy_config
from tests.deploy.conftest import SHIPPED_HAPROXY_CFG, require_tool, run


def test_the_shipped_haproxy_config_passes_haproxy_check() -> None:
    done = run([require_tool("haproxy"), "-c", "-f", str(SHIPPED_HAPROXY_CFG)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_local_rendering_passes_haproxy_check(tmp_path: Path) -> None:
    local = tmp_path / "haproxy.cfg"
    local.write_text(
        render_local_haproxy_config(
            SHIPPED_HAPROXY_CFG.read_text(),
            frontend_bind="127.0.0.1:18080",
            stats_bind="127.0.0.1:18404",
            servers=["127.0.0.1:15001", "127.0.0.1:15002", "127.0.0.1:15003"],
        )
    )
    done = run([require_tool("haproxy"), "-c", "-f", str(local)])
    assert done.returncode == 0, done.stdout + done.stderr
