"""Authentication (bearer tokens) and RBAC authorization, for Events and Leases.

Roles, ClusterRoles, RoleBindings and ClusterRoleBindings are read from multi-document YAML:
a folder of files (``rbac/``) or one file, such as what ``kubectl kustomize`` renders for an
overlay, so the emulator enforces exactly what an admin applies. Other kinds are skipped with
a log line. ``system:admin`` and members of ``system:masters``
bypass RBAC like cluster-admin. ServiceAccount users get the groups the real token
authenticator gives them, so bindings to ``system:serviceaccounts[:NS]`` work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

ADMIN_USER = "system:admin"
ANONYMOUS_USER = "system:anonymous"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    groups: tuple[str, ...]


def user_for(name: str) -> User:
    if name == ANONYMOUS_USER:
        return User(name, ("system:unauthenticated",))
    if name.startswith("system:serviceaccount:"):
        ns = name.split(":")[2]
        return User(name, ("system:serviceaccounts", f"system:serviceaccounts:{ns}",
                           "system:authenticated"))
    if name == ADMIN_USER:
        return User(name, ("system:masters", "system:authenticated"))
    return User(name, ("system:authenticated",))


@dataclass(slots=True)
class _Rule:
    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    names: frozenset[str]

    def allows(self, verb: str, group: str, resource: str, name: str | None) -> bool:
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        if "*" not in self.groups and group not in self.groups:
            return False
        if "*" not in self.resources and resource not in self.resources:
            return False
        if self.names:
            # resourceNames cannot narrow list/watch/create/deletecollection (no name in them).
            return name is not None and name in self.names
        return True


@dataclass(slots=True)
class _Binding:
    namespace: str | None  # None for ClusterRoleBinding
    role_kind: str
    role_name: str
    subjects: list[dict[str, Any]]

    def matches(self, user: User) -> bool:
        for s in self.subjects:
            kind = s.get("kind")
            if kind == "ServiceAccount":
                ns = s.get("namespace") or self.namespace or ""
                if user.name == f"system:serviceaccount:{ns}:{s.get('name')}":
                    return True
            elif kind == "User" and s.get("name") == user.name:
                return True
            elif kind == "Group" and s.get("name") in user.groups:
                return True
        return False


@dataclass(slots=True)
class Authorizer:
    roles: dict[tuple[str, str], list[_Rule]] = field(default_factory=dict)
    cluster_roles: dict[str, list[_Rule]] = field(default_factory=dict)
    bindings: list[_Binding] = field(default_factory=list)
    _cache: dict[tuple[str, str, str, str, str, str | None], bool] = field(
        default_factory=dict)

    def load_text(self, text: str, *, source: str = "<text>") -> None:
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            if doc.get("kind") == "List":
                for item in doc.get("items") or []:
                    self._add(item, source)
            else:
                self._add(doc, source)
        self._cache.clear()

    def load_path(self, path: Path) -> None:
        """Load a folder of YAML files (recursively), or one multi-document YAML file."""
        if not path.exists():
            raise FileNotFoundError(f"RBAC path {path} does not exist")
        files = [path] if path.is_file() else [
            p for p in sorted(path.rglob("*")) if p.suffix in (".yaml", ".yml") and p.is_file()]
        for file in files:
            self.load_text(file.read_text(), source=str(file))
        log.info("loaded RBAC from %s: %d roles, %d cluster roles, %d bindings", path,
                 len(self.roles), len(self.cluster_roles), len(self.bindings))

    def load_dir(self, directory: Path) -> None:
        self.load_path(directory)

    def replace(self, text: str) -> None:
        self.roles.clear()
        self.cluster_roles.clear()
        self.bindings.clear()
        self.load_text(text, source="control endpoint")
        log.info("RBAC replaced: %d roles, %d cluster roles, %d bindings",
                 len(self.roles), len(self.cluster_roles), len(self.bindings))

    def _add(self, doc: dict[str, Any], source: str) -> None:
        kind = doc.get("kind")
        meta = doc.get("metadata") or {}
        name = meta.get("name", "")
        ns = meta.get("namespace") or "default"
        if kind in ("Role", "ClusterRole"):
            rules = [
                _Rule(
                    frozenset(r.get("verbs") or ()),
                    frozenset(r.get("apiGroups") or ()),
                    frozenset(r.get("resources") or ()),
                    frozenset(r.get("resourceNames") or ()),
                )
                for r in doc.get("rules") or []
            ]
            if kind == "Role":
                self.roles[(ns, name)] = rules
            else:
                self.cluster_roles[name] = rules
        elif kind in ("RoleBinding", "ClusterRoleBinding"):
            ref = doc.get("roleRef") or {}
            self.bindings.append(
                _Binding(
                    ns if kind == "RoleBinding" else None,
                    ref.get("kind", "Role"),
                    ref.get("name", ""),
                    list(doc.get("subjects") or []),
                )
            )
        else:
            log.info("ignoring %s %s from %s: not an RBAC kind the emulator enforces",
                     kind, name, source)

    def allowed(self, user: User, verb: str, namespace: str | None, resource: str,
                group: str = "", name: str | None = None) -> bool:
        if user.name == ADMIN_USER or "system:masters" in user.groups:
            return True
        key = (user.name, verb, namespace or "", group, resource, name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._evaluate(user, verb, namespace, resource, group, name)
        self._cache[key] = result
        return result

    def _evaluate(self, user: User, verb: str, namespace: str | None, resource: str,
                  group: str, name: str | None) -> bool:
        for b in self.bindings:
            if b.namespace is not None and b.namespace != namespace:
                continue
            if not b.matches(user):
                continue
            if b.role_kind == "Role" and b.namespace is not None:
                rules = self.roles.get((b.namespace, b.role_name), [])
            else:
                rules = self.cluster_roles.get(b.role_name, [])
            if any(r.allows(verb, group, resource, name) for r in rules):
                return True
        return False
