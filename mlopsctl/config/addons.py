"""The cluster add-ons mlopsctl installs for its workloads: what each one is, at which exact
version, from which upstream package, and what it provides.

The data lives in ``mlopsctl/data/addons.json`` (with the date it was checked and the upstream
source of each package). Versions are those of the upstream schemas the output is tested against.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

Install = Literal["helm", "kustomize", "gke"]


@dataclass(frozen=True)
class AddOn:
    name: str
    version: str
    install: Install
    source: str
    """Helm: the repository URL or ``oci://`` registry path; kustomize: the git repository URL."""
    package: str
    """Helm: the chart name; kustomize: the folder of the kustomization in the repository."""
    namespace: str
    values: Mapping[str, Any]
    requires: tuple[str, ...]
    """Add-ons that must run first (their CRDs or webhooks are used by this one)."""
    kinds: tuple[str, ...]
    """``group/Kind`` of the objects it serves (``group/*`` for a whole API group), or
    ``annotation:KEY=VALUE`` of objects it acts on (KEDA scales what KServe marks for it)."""
    creates: tuple[str, ...]
    """``group/resource`` that workloads create at run time through it (found in their RBAC)."""
    features: Mapping[str, str]
    """Feature used by mlopsctl's output → the first version of this add-on that has it."""
    managed: str | None
    """The ``platform`` setting (``section=value``) under which GKE provides it instead."""
    docs: str


@dataclass(frozen=True)
class AddOnUse:
    """An add-on as one cluster has it: its version, how it is installed, and what needs it."""

    name: str
    version: str
    install: str
    needed_by: tuple[str, ...]
    values: Mapping[str, Any] = field(default_factory=dict)
    """The chart's values, as mlopsctl installs it (a hand install must give the same)."""

    def to_dict(self) -> dict[str, object]:
        found: dict[str, object] = {
            "name": self.name,
            "version": self.version,
            "install": self.install,
            "neededBy": list(self.needed_by),
        }
        if self.values:
            found["values"] = dict(self.values)
        return found


@dataclass(frozen=True)
class Catalog:
    checked: str
    addons: Mapping[str, AddOn]


@functools.cache
def catalog() -> Catalog:
    raw = json.loads(resources.files("mlopsctl").joinpath("data/addons.json").read_text(encoding="utf-8"))
    return Catalog(raw["checked"], {name: _addon(name, spec) for name, spec in raw["addons"].items()})


def _addon(name: str, raw: Mapping[str, Any]) -> AddOn:
    return AddOn(
        name=name,
        version=raw["version"],
        install=raw["install"],
        source=raw["source"],
        package=raw["package"],
        namespace=raw["namespace"],
        values=raw.get("values", {}),
        requires=tuple(raw.get("requires", ())),
        kinds=tuple(raw.get("kinds", ())),
        creates=tuple(raw.get("creates", ())),
        features=raw.get("features", {}),
        managed=raw.get("managed"),
        docs=raw["docs"],
    )


def kind_keys(api_version: str, kind: str) -> set[str]:
    """The catalog's ``kinds`` entries that name ``kind`` of ``api_version``: ``group/Kind``, ``group/*``."""
    group = api_version.rpartition("/")[0]
    return {f"{group}/{kind}", f"{group}/*"}


def serving(api_version: str, kind: str) -> AddOn | None:
    """The add-on that serves ``kind`` of ``api_version`` (its CRD comes with it), if any."""
    wanted = kind_keys(api_version, kind)
    return next((a for a in catalog().addons.values() if wanted & set(a.kinds)), None)


def version_key(version: str) -> tuple[int, ...]:
    """``v1.21.1`` and ``1.21.1`` → (1, 21, 1): add-on releases are plain dotted numbers."""
    return tuple(int(part) for part in version.removeprefix("v").split("."))
