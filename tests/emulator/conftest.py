"""Helpers for the emulator's fidelity tests: raw HTTP sessions, Event bodies, watch readers."""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from kubernetes import client, config

from pushsvc.testing.kubeapi import KubeAPI, start_kubeapi

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def kubectl(kubeconfig: Path, *args: str,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


class Http:
    """A requests session speaking plain HTTP to the emulator with a bearer token."""

    def __init__(self, api: KubeAPI, token: str | None) -> None:
        self.base = api.url
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=kw.pop("timeout", 30), **kw)

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.session.post(self.url(path), json=body, timeout=30, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.session.delete(self.url(path), timeout=30, **kw)

    def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.post(f"/api/v1/namespaces/{namespace}/events", body)
        assert resp.status_code == 201, resp.text
        result: dict[str, Any] = resp.json()
        return result

    def watch(self, path: str, **params: Any) -> WatchReader:
        resp = self.session.get(self.url(path), params={"watch": "true", **params},
                                stream=True, timeout=(10, 30))
        return WatchReader(resp)

    def close(self) -> None:
        self.session.close()


class WatchReader:
    """Reads watch lines on a thread so tests can poll with timeouts."""

    def __init__(self, resp: requests.Response) -> None:
        self.resp = resp
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for line in self.resp.iter_lines():
                if line:
                    self.lines.put(line)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError,
                AttributeError):
            pass  # the test closed the response under the reader
        finally:
            self.ended.set()
            self.lines.put(None)

    def next(self, timeout: float = 10) -> dict[str, Any]:
        line = self.lines.get(timeout=timeout)
        assert line is not None, "the watch stream ended"
        result: dict[str, Any] = json.loads(line)
        return result

    def take(self, n: int, timeout: float = 10) -> list[dict[str, Any]]:
        return [self.next(timeout) for _ in range(n)]

    def rest(self, timeout: float = 15) -> list[dict[str, Any]]:
        """Every remaining line until the server ends the stream."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                return out
            out.append(json.loads(line))

    def close(self) -> None:
        # Closing a response another thread is reading blocks on the reader's buffer lock, so
        # shut the socket down first; the reader then sees EOF at once.
        fp = getattr(self.resp.raw, "_fp", None)
        sock = getattr(getattr(getattr(fp, "fp", None), "raw", None), "_sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.ended.wait(10)
        self.resp.close()


def event(namespace: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
    """A minimal core/v1 Event body."""
    meta: dict[str, Any] = {"name": name} if name else {"generateName": "ev."}
    meta.update(fields.pop("metadata", {}))
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": meta,
        "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": namespace},
        "reason": "Pushed",
        "message": "hello",
        "type": "Normal",
    }
    body.update(fields)
    return body


def wait_for(predicate: Any, timeout: float = 10, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture(scope="session")
def shared_kubeapi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPI]:
    """One emulator for tests that stay inside their own namespace (see ``ns``)."""
    with start_kubeapi(tmp_path_factory.mktemp("shared-kubeapi")) as api:
        yield api


@pytest.fixture(scope="session")
def shared_http(shared_kubeapi: KubeAPI) -> Iterator[Http]:
    h = Http(shared_kubeapi, shared_kubeapi.admin_token())
    yield h
    h.close()


_ns_counter = itertools.count()


@pytest.fixture
def ns() -> str:
    """A namespace no other test uses."""
    return f"t{next(_ns_counter)}"


@pytest.fixture
def http(kubeapi: KubeAPI) -> Iterator[Http]:
    h = Http(kubeapi, kubeapi.admin_token())
    yield h
    h.close()


@pytest.fixture
def core_v1(kubeapi: KubeAPI) -> Iterator[client.CoreV1Api]:
    api_client = config.new_client_from_config(config_file=str(kubeapi.kubeconfig))
    yield client.CoreV1Api(api_client)
    api_client.close()
