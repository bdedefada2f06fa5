"""Scenario 4, watcher ingest: Events per second one pod takes from the watch and dispatches.

The watch stream is made of realistic lines: Events built by the emitter's own
codec, wrapped as the API server sends them (metadata.uid, resourceVersion,
creationTimestamp and managedFields added). Each line goes through
parse → envelope validation → dispatch to python-socketio (``_handle_emit`` of
a real ``socketio.Server``'s manager, a room with no local clients), on three
paths:

- pushsvc: its real ``EventWatcher`` (fed by a canned transport) and
  ``KubernetesManager._listen``, each message then to ``_handle_emit``;
- reference: ``orjson.loads`` + ``emitter.codec.decode_event`` + dispatch,
  the least any watcher must do;
- baseline: the ``kubernetes`` client's ``Watch.unmarshal_event`` into
  ``CoreV1Event`` models (what a naive watcher does), then the same envelope step.

CPU per Event is process CPU time / Events; Events/s is Events / wall time,
one core.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from bench.common import Context, Row, ScenarioResult

log = logging.getLogger(__name__)


def _watch_lines(count: int) -> list[str]:
    from emitter import codec
    from emitter.model import EmitMessage, Envelope

    lines = []
    for i in range(count):
        env = Envelope(messages=[EmitMessage(
            host_id="bench-notifier", event="nuke_response", room="bench",
            data=[{"data": f"bseq={i} bt={time.time() * 1000:.3f} " + "x" * 64}])])
        ev = codec.encode_event(env, namespace="default", channel="pushsvc",
                                involved_object={"kind": "Pod", "name": "notifier-0",
                                                 "apiVersion": "v1"})
        meta = ev["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = str(100000 + i)
        meta["creationTimestamp"] = ev["firstTimestamp"]
        meta["managedFields"] = [{
            "manager": "pushsvc-notify", "operation": "Update", "apiVersion": "v1",
            "time": ev["firstTimestamp"], "fieldsType": "FieldsV1",
            "fieldsV1": {"f:count": {}, "f:firstTimestamp": {}, "f:involvedObject": {},
                         "f:lastTimestamp": {}, "f:message": {}, "f:reason": {},
                         "f:source": {"f:component": {}}, "f:type": {},
                         "f:metadata": {"f:annotations": {".": {}, "f:pushsvc.io/payload": {}},
                                        "f:labels": {".": {}, "f:pushsvc.io/channel": {}}}},
        }]
        lines.append(json.dumps({"type": "ADDED", "object": ev}))
    return lines


def _dispatcher() -> Callable[[Any], None]:
    """python-socketio's PubSubManager emit handling, on a server with no clients in the room."""
    import socketio

    class _Local(socketio.PubSubManager):
        def _publish(self, data: Any) -> None:  # never called: we only consume
            raise AssertionError("unexpected publish")

        def _listen(self) -> Any:
            return iter(())

    mgr = _Local()
    server = socketio.Server(client_manager=mgr, async_mode="threading")
    mgr.set_server(server)

    def dispatch(envelope: Any) -> None:
        for msg in envelope.messages:
            mgr._handle_emit(msg.model_dump())

    return dispatch


def _lean(lines: list[str], dispatch: Callable[[Any], None]) -> None:
    import orjson

    from emitter import codec

    for line in lines:
        obj = orjson.loads(line)
        if obj["type"] != "ADDED":
            continue
        dispatch(codec.decode_event(obj["object"]))


def _kubernetes_client(lines: list[str], dispatch: Callable[[Any], None]) -> None:
    from kubernetes import watch

    from emitter import codec

    w = watch.Watch()
    for line in lines:
        ev = w.unmarshal_event(line, "CoreV1Event")
        if ev["type"] != "ADDED":
            continue
        annotations = ev["object"].metadata.annotations or {}
        dispatch(codec.decode_payload(annotations[codec.PAYLOAD_ANNOTATION]))


def _pushsvc_watcher(lines: list[str], dispatch: Callable[[Any], None]) -> None:
    """pushsvc's own hot path, in its own background task as in a pod.

    EventWatcher (fed by a canned transport) → KubernetesManager._listen →
    PubSubManager._thread → _handle_emit; returns once every line is dispatched.
    """
    import threading

    import socketio
    from kubernetes.client import ApiClient

    from pushsvc.bus.manager import KubernetesManager
    from pushsvc.bus.watcher import ListPage

    raw = [line.encode() for line in lines]
    done = threading.Event()
    handled = 0

    class _Canned:
        def list_pages(self, *, limit: int | None = None) -> Iterator[ListPage]:
            yield ListPage([], "1")

        @contextlib.contextmanager
        def watch(self, resource_version: str) -> Iterator[Iterator[bytes]]:
            def stream() -> Iterator[bytes]:
                for i, line in enumerate(raw):
                    if i == len(raw) - 1:
                        mgr.watcher.stop()
                    yield line
            yield stream()

    class _Counting(KubernetesManager):
        def _handle_emit(self, message: dict[str, Any]) -> Any:
            nonlocal handled
            result = super()._handle_emit(message)
            handled += 1
            if handled == len(raw):
                done.set()
            return result

    mgr = _Counting(api_client=ApiClient(), namespace="default", channel="pushsvc",
                    involved_object={"kind": "Pod", "name": "bench", "apiVersion": "v1"},
                    transport=_Canned())
    # The stream ends when the lines do; the watcher would back off before it sees stop().
    mgr.watcher._sleep = lambda _seconds: None
    # PubSubManager logs "pubsub listen() exited unexpectedly" when the canned stream ends.
    logging.getLogger("socketio.server").setLevel(logging.CRITICAL)
    socketio.Server(client_manager=mgr, async_mode="threading", logger=False)  # starts the task
    if not done.wait(timeout=120):
        raise RuntimeError(f"pushsvc dispatched {handled} of {len(raw)} Events in 120 s")


def _time(fn: Callable[[list[str], Callable[[Any], None]], None], lines: list[str],
          dispatch: Callable[[Any], None]) -> dict[str, float]:
    fn(lines[: min(200, len(lines))], dispatch)  # warm-up
    c0, t0 = time.process_time(), time.perf_counter()
    fn(lines, dispatch)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return {"events_per_s": len(lines) / wall, "cpu_us_per_event": 1e6 * cpu / len(lines)}


def run(ctx: Context) -> ScenarioResult:
    import kubernetes

    result = ScenarioResult("ingest")
    lines = _watch_lines(ctx.sizes.ingest_events)
    dispatch = _dispatcher()
    lean = _time(_lean, lines, dispatch)
    naive = _time(_kubernetes_client, lines, dispatch)
    try:
        own: dict[str, float] | None = _time(_pushsvc_watcher, lines, dispatch)
    except ImportError as exc:
        own = None
        result.errors.append(f"pushsvc.bus is not importable: {exc}")
    result.raw = {"events": len(lines), "line_bytes": sum(map(len, lines)) / len(lines),
                  "pushsvc_watcher": own, "lean_reference": lean, "kubernetes_client": naive,
                  "kubernetes_version": kubernetes.__version__}
    if own is None:
        own = {"events_per_s": math.nan, "cpu_us_per_event": math.nan}
    result.notes.append(
        f"ingest: watch lines of {result.raw['line_bytes']:.0f} B with managedFields; "
        f"baseline = kubernetes {kubernetes.__version__} Watch.unmarshal_event models")
    result.rows.append(Row("watcher ingest Events/s (parse+validate+dispatch)",
                           own["events_per_s"], naive["events_per_s"], "/s",
                           target=">= 5,000/s", baseline_name="kubernetes models"))
    result.rows.append(Row("watcher CPU per Event", own["cpu_us_per_event"],
                           naive["cpu_us_per_event"], "us", higher_is_better=False,
                           baseline_name="kubernetes models"))
    result.rows.append(Row("  reference: orjson + decode_event + dispatch, CPU per Event",
                           lean["cpu_us_per_event"], naive["cpu_us_per_event"], "us",
                           higher_is_better=False, baseline_name="kubernetes models"))
    return result
