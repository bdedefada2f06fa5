"""``/_emulator/``: the control endpoints tests drive the emulator with (no authentication).

``stats``, ``healthz``, ``timings``; ``fault`` (429s, stalled or dropped watches, compaction,
etcd snapshot and restore); ``tokens``; ``apf`` (API Priority and Fairness limits); ``rbac``
(replace the loaded Roles and bindings).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from .httputil import StartResponse, json_response, read_body
from .status import ApiError, bad_request

if TYPE_CHECKING:
    from .server import Emulator

log = logging.getLogger(__name__)


def control(emu: Emulator, environ: dict[str, Any], start_response: StartResponse,
            path: str) -> Iterable[bytes]:
    method = environ["REQUEST_METHOD"]
    action = path[len("/_emulator/"):].strip("/")
    if action == "stats" and method == "GET":
        return json_response(start_response, 200, emu.stats())
    if action == "healthz":
        return json_response(start_response, 200, {"ok": True})
    if action == "timings" and method == "GET":
        if emu.timings is None:
            raise bad_request("timings are off: start the emulator with --record-timings")
        return json_response(start_response, 200, {"events": emu.timings.take()})
    body = read_body(environ)
    if action == "fault" and method == "POST":
        spec = orjson.loads(body or b"{}")
        return json_response(start_response, 200, fault(emu, spec))
    if action == "tokens" and method == "POST":
        spec = orjson.loads(body)
        emu.store.add_token(str(spec["token"]), str(spec["user"]))
        log.info("registered a token for user %s", spec["user"])
        return json_response(start_response, 200, {"user": spec["user"]})
    if action == "apf" and method == "GET":
        return json_response(start_response, 200, emu.apf.stats())
    if action == "apf" and method == "POST":
        spec = orjson.loads(body or b"{}")
        try:
            result = emu.apf.configure(
                str(spec["user"]), rate=spec.get("rate"), burst=spec.get("burst"),
                retry_after=spec.get("retry_after"))
        except (KeyError, TypeError, ValueError) as err:
            raise bad_request(f"bad APF limit {spec!r}: {err}") from None
        log.info("APF: %s", result)
        return json_response(start_response, 200, result)
    if action == "rbac" and method == "PUT":
        try:
            emu.authz.replace(body.decode())
        except (ValueError, AttributeError) as err:
            raise bad_request(f"bad RBAC YAML: {err}") from None
        return json_response(start_response, 200, {"roles": len(emu.authz.roles),
                                           "bindings": len(emu.authz.bindings)})
    raise ApiError(404, f"no control action {action!r} for {method}")

def fault(emu: Emulator, spec: dict[str, Any]) -> dict[str, Any]:
    kind = str(spec.get("kind"))
    if kind == "429":
        emu.fail_next = int(spec.get("count", 1))
        emu.retry_after = int(spec.get("retry_after", 1))
        log.info("fault: the next %d requests get 429 (Retry-After %d)",
                 emu.fail_next, emu.retry_after)
        return {"kind": kind, "count": emu.fail_next}
    if kind == "stall":
        return {"kind": kind, "watches": emu.hub.stall_all()}
    if kind == "drop_watches":
        return {"kind": kind, "watches": emu.hub.drop_all() + emu.jobs.hub.drop_all()}
    if kind == "compact":
        return {"kind": kind, "resourceVersion": str(emu.store.compact())}
    if kind == "snapshot":
        # An etcd backup: "restore" brings the store back to it (resourceVersion included),
        # as restoring etcd from a backup does; open watches are dropped, as a restarted
        # kube-apiserver drops them.
        emu.etcd_backup = emu.store.snapshot()
        return {"kind": kind, "resourceVersion": str(emu.store.rv)}
    if kind == "restore":
        if emu.etcd_backup is None:
            raise bad_request("no snapshot to restore: POST {\"kind\": \"snapshot\"} first")
        emu.store.restore(emu.etcd_backup)
        return {"kind": kind, "resourceVersion": str(emu.store.rv),
                "watches": emu.hub.drop_all()}
    raise bad_request(f"unknown fault kind {kind!r}")
