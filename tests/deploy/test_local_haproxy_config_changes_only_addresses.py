"""The local topology's HAProxy config is the shipped one with only addresses changed."""

from __future__ import annotations

import re

import pytest

from pushsvc.testing.shipped import shipped_haproxy_cfg
from pushsvc.testing.topology import render_local_haproxy_config, shipped_server_names
from tests.deploy.conftest import SHIPPED_HAPROXY_CFG

pytestmark = pytest.mark.unit  # in process, whatever its folder

SHIPPED = SHIPPED_HAPROXY_CFG.read_text()
LOCAL_SERVERS = ["127.0.0.1:15001", "127.0.0.1:15002", "127.0.0.1:15003"]


def _render() -> str:
    return render_local_haproxy_config(
        SHIPPED, frontend_bind="127.0.0.1:18080", stats_bind="127.0.0.1:18404",
        servers=LOCAL_SERVERS,
    )


def _mask_addresses(text: str) -> str:
    text = re.sub(r"^(\s+server\s+\S+\s+)\S+", r"\1ADDR", text, flags=re.M)
    return re.sub(r"^(\s+bind\s+)\S+", r"\1ADDR", text, flags=re.M)


def test_everything_but_bind_and_server_addresses_is_identical() -> None:
    local = _render()
    assert local != SHIPPED
    assert _mask_addresses(local) == _mask_addresses(SHIPPED)


def test_each_server_keeps_its_name_and_cookie_and_gets_a_local_address() -> None:
    local = _render()
    servers = re.findall(r"^\s+server\s+(\S+)\s+(\S+)\s+cookie\s+(\S+)", local, flags=re.M)
    assert [s[1] for s in servers] == LOCAL_SERVERS
    assert [s[0] for s in servers] == shipped_server_names(SHIPPED)
    assert len({s[2] for s in servers}) == len(servers)
    assert "bind 127.0.0.1:18080" in local and "bind 127.0.0.1:18404" in local


def test_fewer_pods_keep_the_first_server_lines() -> None:
    local = render_local_haproxy_config(
        SHIPPED, frontend_bind="127.0.0.1:1", stats_bind="127.0.0.1:2", servers=LOCAL_SERVERS[:2],
    )
    servers = re.findall(r"^\s+server\s+(\S+)\s+(\S+)\s+cookie\s+(\S+)", local, flags=re.M)
    assert servers == [("node1", LOCAL_SERVERS[0], "s1"), ("node2", LOCAL_SERVERS[1], "s2")]


def test_more_pods_continue_the_last_server_line_renumbered() -> None:
    five = [*LOCAL_SERVERS, "127.0.0.1:15004", "127.0.0.1:15005"]
    local = render_local_haproxy_config(
        SHIPPED, frontend_bind="127.0.0.1:1", stats_bind="127.0.0.1:2", servers=five,
    )
    lines = [line for line in local.splitlines() if line.strip().startswith("server ")]
    assert lines[3:] == [
        "    server node4 127.0.0.1:15004 cookie s4",
        "    server node5 127.0.0.1:15005 cookie s5",
    ]
    assert _mask_addresses(lines[2]) == _mask_addresses(lines[3]).replace("4", "3")


def test_no_pods_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one pod"):
        render_local_haproxy_config(
            SHIPPED, frontend_bind="127.0.0.1:1", stats_bind="127.0.0.1:2", servers=[],
        )


def test_the_packaged_config_is_the_shipped_file() -> None:
    assert shipped_haproxy_cfg().read_text() == SHIPPED


def test_the_shipped_config_has_what_socketio_needs_behind_haproxy() -> None:
    assert re.search(r"^\s+balance source$", SHIPPED, flags=re.M)
    assert "cookie SERVERID insert indirect nocache" in SHIPPED
    assert "timeout tunnel 1h" in SHIPPED
    assert "option forwardfor" in SHIPPED
    assert "uri /readyz" in SHIPPED
    for which in ("client", "server"):
        seconds = int(re.search(rf"timeout {which} (\d+)s", SHIPPED).group(1))  # type: ignore[union-attr]
        assert seconds > 25 + 20  # Engine.IO ping interval + ping timeout
    assert "stats uri /stats" in SHIPPED
