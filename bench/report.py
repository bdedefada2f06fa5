"""The benchmark's output: machine facts, the comparison table, results JSON and PNG plots."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from bench.common import ROOT, ScenarioResult

PACKAGES = ("pushsvc", "Flask", "Flask-SocketIO", "python-socketio", "python-engineio",
            "gevent", "gevent-websocket", "gunicorn", "kubernetes", "orjson", "pydantic",
            "redis")


def _cmd_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=ROOT)
    except OSError:
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else "?"


def machine() -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    ws = ROOT / "node_modules" / "ws" / "package.json"
    versions["ws (npm)"] = json.loads(ws.read_text())["version"] if ws.exists() else "missing"
    versions["node"] = _cmd_version(["node", "--version"])
    versions["redis-server"] = _cmd_version(["redis-server", "--version"])
    commit = _cmd_version(["git", "rev-parse", "--short", "HEAD"])
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": os.getloadavg(),
        "fd_hard_limit": __import__("resource").getrlimit(
            __import__("resource").RLIMIT_NOFILE)[1],
        "git_commit": commit,
        "versions": versions,
    }


def _fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit in ("/s",) or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def table(results: list[ScenarioResult]) -> str:
    # "floor": bare gevent pywsgi + wsproto (bench/floor_app.py), where measured.
    lines = ["| figure | pushsvc | baseline | ratio | floor | × floor | unit | target |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for res in results:
        for row in res.rows:
            ratio = "—" if row.ratio is None else f"{row.ratio:.2f}"
            floor_ratio = "—" if row.floor_ratio is None else f"{row.floor_ratio:.2f}"
            base = _fmt(row.baseline, row.unit)
            if row.baseline is not None:
                base += f" ({row.baseline_name})"
            lines.append(f"| {row.figure} | {_fmt(row.pushsvc, row.unit)} | {base} | {ratio} "
                         f"| {_fmt(row.floor, row.unit)} | {floor_ratio} "
                         f"| {row.unit} | {row.target} |")
    return "\n".join(lines)


def machine_line(m: dict[str, Any]) -> str:
    v = m["versions"]
    return (f"{m['date']} · {m['cores']} cores {m['cpu_model']} · {m['memory_gib']} GiB · "
            f"Python {m['python']} · Flask-SocketIO {v['Flask-SocketIO']} · python-socketio "
            f"{v['python-socketio']} · gevent {v['gevent']} · gunicorn {v['gunicorn']} · "
            f"kubernetes {v['kubernetes']} · node {v['node']} · ws {v['ws (npm)']} · "
            f"{v['redis-server']} · load at start {m['load_average_at_start'][0]:.2f}")


def write_json(path: Path, m: dict[str, Any], results: list[ScenarioResult], *,
               smoke: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "smoke": smoke,
        "machine": m,
        "scenarios": {r.name: {"rows": [asdict(row) | {"ratio": row.ratio,
                                                        "floor_ratio": row.floor_ratio}
                                        for row in r.rows],
                               "notes": r.notes, "errors": r.errors, "raw": r.raw}
                      for r in results},
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str, allow_nan=True))
    tmp.replace(path)


def plots(out_dir: Path, results: list[ScenarioResult]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    by_name = {r.name: r for r in results}
    cap = by_name.get("capacity")
    if cap and cap.raw.get("sweeps"):
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for name, label in (("pushsvc", "pushsvc"), ("baseline", "Flask-SocketIO"),
                            ("floor", "floor (bare gevent + wsproto)")):
            pts = cap.raw["sweeps"].get(name)
            if pts:
                ax.plot([p["connections"] for p in pts], [p["rss"] / 2**20 for p in pts],
                        marker="o", label=label)
        ax.set_xlabel("idle WebSocket connections (one pod)")
        ax.set_ylabel("worker RSS (MiB)")
        ax.set_title("Memory vs connections")
        ax.grid(alpha=0.3)
        ax.legend()
        path = out_dir / "memory_vs_connections.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    bus = by_name.get("bus")
    if bus and bus.raw.get("sweeps"):
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        styles = {"p50": "-", "p90": "--", "p99": ":"}
        colors = {"pushsvc": "tab:blue", "baseline": "tab:orange"}
        labels = {"pushsvc": "pushsvc (Kubernetes Events)", "baseline": "RedisManager"}
        for name, pts in bus.raw["sweeps"].items():
            # Plotted at the rate the notifier really achieved, which may fall short.
            rates = [p["achieved_rate"] for p in pts]
            for q, style in styles.items():
                ax.plot(rates, [p["latency_ms"][q] for p in pts], style, marker="o",
                        color=colors[name], label=f"{labels[name]} {q}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("notifications per second (achieved)")
        ax.set_ylabel("notify() → client latency (ms)")
        ax.set_title("Bus latency, three pods")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
        path = out_dir / "latency_vs_rate.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    foot = by_name.get("footprint")
    if foot and foot.raw.get("samples"):
        from bench.footprint import plot

        written.append(plot(out_dir, foot))
    return written
