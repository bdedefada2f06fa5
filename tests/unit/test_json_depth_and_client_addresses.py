"""Pure logic of the bounds: JSON depth (the Socket.IO layer), client addresses (the engine)."""

from __future__ import annotations

import ipaddress
import json

import pytest

from pushsvc.engineio.bounds import client_address
from pushsvc.engineio.sio import json_too_deep


def _nest(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1, 5, 31, 32])
def test_json_within_the_depth_is_not_too_deep(depth: int) -> None:
    assert not json_too_deep(_nest(depth), 32)
    assert not json_too_deep('{"a":' * depth + "1" + "}" * depth, 32)


@pytest.mark.parametrize("depth", [33, 1000, 20000])
def test_json_past_the_depth_is_too_deep(depth: int) -> None:
    assert json_too_deep(_nest(depth), 32)
    assert json_too_deep("[1," * depth + "1" + "]" * depth, 32)
    assert json_too_deep("[[]," * depth + "]" * depth, 32)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps(["e", "[" * 500, {"k": "{" * 500 + '\\"' + "[" * 10}])
    assert not json_too_deep(text, 32)


def test_many_siblings_are_wide_not_deep() -> None:
    assert not json_too_deep(json.dumps([[{"a": [1]}] for _ in range(5000)]), 4)


def test_unbalanced_brackets_are_refused_as_not_json() -> None:
    assert json_too_deep("[" * 40, 32)


TRUSTED = (ipaddress.ip_network("10.0.0.0/24"),)


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    environ = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}
    assert client_address(environ, ()) == "10.0.0.5"


def test_an_untrusted_peers_forwarded_header_is_ignored() -> None:
    environ = {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}
    assert client_address(environ, TRUSTED) == "192.0.2.1"


def test_a_trusted_proxy_gives_the_rightmost_untrusted_hop() -> None:
    environ = {"REMOTE_ADDR": "10.0.0.5",
               "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.7"}
    assert client_address(environ, TRUSTED) == "1.2.3.4"


def test_garbage_in_the_header_stops_trust_at_the_last_good_hop() -> None:
    environ = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "not-an-ip"}
    assert client_address(environ, TRUSTED) == "10.0.0.5"
    assert client_address({"REMOTE_ADDR": "10.0.0.5"}, TRUSTED) == "10.0.0.5"
