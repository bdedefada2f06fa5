"""The shipped HAProxy config made local, and HAProxy's stats read back (the local topology's).

``render_local_haproxy_config`` takes the shipped ``haproxy/haproxy.cfg`` and changes only
addresses — the frontend and stats ``bind`` addresses (free loopback ports) and each
``server`` address (a local pod) — so whatever the topology proves about stickiness,
timeouts and health checks holds for the shipped file. For another pod count than the
shipped config's, ``server`` lines are dropped from the end or continued from the last one
(``node3 … cookie s3`` → ``node4 … cookie s4``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

FRONTEND_SECTION = "frontend fe_pushsvc"
BACKEND_SECTION = "backend be_pushsvc"
STATS_SECTION = "listen stats"

_SECTION_RE = re.compile(r"^(global|defaults|frontend|backend|listen|resolvers|userlist|peers)\b")
_SERVER_RE = re.compile(r"^(?P<indent>\s+)server\s+(?P<name>\S+)\s+(?P<addr>\S+)(?P<rest>.*)$")
_BIND_RE = re.compile(r"^(?P<indent>\s+)bind\s+(?P<addr>\S+)(?P<rest>.*)$")
_COOKIE_RE = re.compile(r"(\bcookie\s+)(\S*?)(\d*)(?=\s|$)")


# --------------------------------------------------------------------------- HAProxy config


def _sections(lines: Sequence[str]) -> list[str]:
    """The section header each line belongs to ('' before the first section)."""
    current = ""
    out = []
    for line in lines:
        stripped = line.strip()
        if _SECTION_RE.match(line):
            current = " ".join(stripped.split())
        out.append(current)
    return out


def shipped_server_names(config: str) -> list[str]:
    """The ``server`` names of the pushsvc backend, in order (one per pod)."""
    lines = config.splitlines()
    return [
        m.group("name")
        for line, section in zip(lines, _sections(lines), strict=True)
        if section == BACKEND_SECTION and (m := _SERVER_RE.match(line))
    ]


def _numbered(name: str, number: int) -> str:
    """``node3`` → ``node<number>`` (a name without a trailing number gets one appended)."""
    return re.sub(r"\d*$", str(number), name, count=1)


def local_server_names(config: str, count: int) -> list[str]:
    """The ``server`` names of a local topology of ``count`` pods (see the module docstring)."""
    names = shipped_server_names(config)
    if not names:
        raise ValueError("the HAProxy config has no server line in 'backend be_pushsvc'")
    if count < 1:
        raise ValueError(f"a topology needs at least one pod, got {count}")
    extra = [_numbered(names[-1], len(names) + i + 1) for i in range(max(0, count - len(names)))]
    return (names + extra)[:count]


def render_local_haproxy_config(
    config: str,
    *,
    frontend_bind: str,
    stats_bind: str,
    servers: Sequence[str],
) -> str:
    """Return ``config`` with only addresses changed, for a local topology.

    :param config: the shipped haproxy.cfg text.
    :param frontend_bind: ``host:port`` replacing the frontend's ``bind`` address.
    :param stats_bind: ``host:port`` replacing the stats section's ``bind`` address.
    :param servers: ``host:port`` of each pod, replacing the backend's ``server``
        addresses in order. With fewer pods than the config has servers the last lines are
        dropped; with more, lines are added after the last one, renumbered.
    """
    lines = config.splitlines(keepends=True)
    names = local_server_names(config, len(servers))
    pending = list(zip(names, servers, strict=True))
    seen = 0
    out = []
    for line, section in zip(lines, _sections(lines), strict=True):
        if section == BACKEND_SECTION and (m := _SERVER_RE.match(line)):
            seen += 1
            if not pending:
                continue
            name, addr = pending.pop(0)
            out.append(f"{m['indent']}server {name} {addr}{m['rest']}\n")
            if seen == len(shipped_server_names(config)):
                for number, (name, addr) in enumerate(pending, start=seen + 1):
                    rest = _COOKIE_RE.sub(lambda c, n=number: f"{c[1]}{c[2]}{n}", m["rest"])
                    out.append(f"{m['indent']}server {name} {addr}{rest}\n")
                pending = []
            continue
        if section in (FRONTEND_SECTION, STATS_SECTION) and (m := _BIND_RE.match(line)):
            addr = frontend_bind if section == FRONTEND_SECTION else stats_bind
            line = f"{m['indent']}bind {addr}{m['rest']}\n"
        out.append(line)
    return "".join(out)


@dataclass(frozen=True)
class ServerState:
    """One row of HAProxy's stats CSV for a pushsvc server."""

    name: str
    status: str  # UP, DOWN, "UP 1/2", MAINT, ...
    current_sessions: int
    total_sessions: int
    check_status: str


def parse_stats_csv(text: str, *, backend: str = "be_pushsvc") -> dict[str, ServerState]:
    """Server rows of ``backend`` from HAProxy's ``/stats;csv`` output."""
    reader = csv.DictReader(io.StringIO(text.lstrip("# ")))
    states = {}
    for row in reader:
        if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND"):
            continue
        states[row["svname"]] = ServerState(
            name=row["svname"],
            status=row.get("status", ""),
            current_sessions=int(row.get("scur") or 0),
            total_sessions=int(row.get("stot") or 0),
            check_status=row.get("check_status", ""),
        )
    return states


def server_for_cookie(config: str, value: str) -> int:
    """Index of the ``server`` line whose ``cookie`` value is ``value`` (s1 → 0, ...)."""
    servers = (line for line in config.splitlines() if _SERVER_RE.match(line))
    for index, line in enumerate(servers):
        if re.search(rf"\bcookie\s+{re.escape(value)}\b", line):
            return index
    raise KeyError(value)
