"""Where the shipped deployment files are: ``rbac/``, ``haproxy/haproxy.cfg`` and the Job
notifier's grant (``manifests/job-notify/role.yaml``, ``rolebinding.yaml``).

The local topology and the pytest plugin load the very files an admin applies, so what they
prove holds for those files. In a source tree ``pushsvc/testing/data/`` links to the top-level
folders; a wheel carries copies (package data), so ``pushsvc demo`` works outside the tree.
"""

from __future__ import annotations

from pathlib import Path

_DATA = Path(__file__).resolve().parent / "data"


def shipped_rbac_dir() -> Path:
    """The folder of the shipped Role/RoleBinding/ServiceAccount YAML (``rbac/``)."""
    return _checked(_DATA / "rbac", "rbac/")


def shipped_job_notify_rbac() -> list[Path]:
    """The Role and RoleBinding of the ``manifests/job-notify`` component (list/watch on
    jobs for ``pushsvc-api``), which ``pushsvc demo`` loads on top of ``rbac/``."""
    folder = _DATA / "job-notify"
    return [_checked(folder / name, f"manifests/job-notify/{name}")
            for name in ("role.yaml", "rolebinding.yaml")]


def shipped_haproxy_cfg() -> Path:
    """The shipped HAProxy config (``haproxy/haproxy.cfg``)."""
    return _checked(_DATA / "haproxy" / "haproxy.cfg", "haproxy/haproxy.cfg")


def _checked(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"the shipped {what} is missing at {path}: reinstall pushsvc, or pass the file "
            "explicitly (pushsvc demo --rbac-dir / --haproxy-cfg)"
        )
    return path


__all__ = ["shipped_haproxy_cfg", "shipped_job_notify_rbac", "shipped_rbac_dir"]
