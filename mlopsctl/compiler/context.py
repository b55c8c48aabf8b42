"""What every build step gets: the validated config of one target and the graph to add to."""

from __future__ import annotations

import functools
import pathlib
from dataclasses import dataclass, field
from typing import Any

from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import bucket_name
from mlopsctl.config.sourcemap import Path, format_path
from mlopsctl.config.target import Target
from mlopsctl.config.templates import TemplateError, render_object, resolved_template
from mlopsctl.graph import JSON, Graph, Resource, address_of, fn_invoke

MANAGED_BY = "mlopsctl"
_KINDS: tuple[tuple[type, str], ...] = (
    (dict, "a mapping"),
    (list, "a list"),
    (str, "a string"),
    (bool, "a boolean"),
    (int, "a number"),
    (float, "a number"),
)


def kubernetes_type(api_version: str, kind: str) -> str:
    """The Pulumi type token of a Kubernetes kind: ``v1`` → ``kubernetes:core/v1:Namespace``."""
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{kind}"


def ownership_labels(project: str, target: Target) -> dict[str, str]:
    """The labels that make an object mlopsctl's, of one project and target (what pruning selects by)."""
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": project,
        "mlopsctl.dev/env": target.env,
        "mlopsctl.dev/region": target.region,
    }


@dataclass
class BuildContext:
    config: MLOpsConfig
    target: Target
    base_dir: pathlib.Path
    graph: Graph = field(init=False)
    rendered_by: dict[str, str] = field(init=False, default_factory=dict)
    """The address of each object :meth:`add_manifest` added → the template that rendered it."""

    def __post_init__(self) -> None:
        self.graph = Graph(self.target, self.gcp_project)

    @property
    def gcp_project(self) -> str:
        return self.config.environments[self.target.env].gcp_project

    @functools.cached_property
    def declared_buckets(self) -> dict[str, str]:
        """The name in Cloud Storage of each bucket under ``data.buckets`` → its key there."""
        return {
            bucket_name(self.config, self.target, key, bucket): key
            for key, bucket in self.config.data.buckets.items()
        }

    @functools.cached_property
    def templates_dir(self) -> pathlib.Path | None:
        """The project's template overrides (``project.templates``), if it has any."""
        folder = self.config.project.templates
        return (self.base_dir / folder).resolve() if folder else None

    def gcp_labels(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Labels on every Google Cloud resource: who manages it and where it belongs (the
        ``provenance`` pass adds the address and the commit)."""
        env = self.config.environments[self.target.env]
        return {
            **self.config.project.labels,
            **env.labels,
            **(extra or {}),
            "managed-by": MANAGED_BY,
            "mlops-project": self.config.project.name,
            "mlops-env": self.target.env,
            "mlops-region": self.target.region,
        }

    def k8s_labels(self, component: str | None = None) -> dict[str, str]:
        """Labels on every Kubernetes object: :func:`ownership_labels` and the component."""
        labels = ownership_labels(self.config.project.name, self.target)
        if component:
            labels["app.kubernetes.io/component"] = component
        return labels

    def add(
        self,
        type_token: str,
        name: str,
        inputs: dict[str, JSON],
        *,
        source: Path,
        depends_on: tuple[str, ...] = (),
        protect: bool = False,
    ) -> Resource:
        return self.graph.add(
            Resource(self.target, type_token, name, inputs, tuple(sorted(depends_on)), protect, source)
        )

    def manifest(self, template: str, **values: JSON) -> dict[str, JSON]:
        """The Kubernetes object ``templates/kubernetes/<template>.yaml.j2`` renders from ``values``
        (the project's override of it, if any)."""
        return render_object(template, self.templates_dir, **values)

    def add_manifest(
        self,
        template: str,
        *,
        source: Path,
        depends_on: tuple[str, ...] = (),
        graph_name: str | None = None,
        **values: JSON,
    ) -> Resource:
        """Render a Kubernetes object from a template and add it to the graph, named ``graph_name``
        there (default: the object's name)."""
        obj = self.manifest(template, **values)
        token = kubernetes_type(obj["apiVersion"], obj["kind"])
        name = graph_name or obj["metadata"]["name"]
        resource = self.add(token, name, obj, source=source, depends_on=depends_on)
        self.rendered_by[resource.address] = template
        for key in ("labels", "annotations"):
            found = obj["metadata"].get(key)
            if found is None:  # a key with no entries renders as null
                found = {}
            if not isinstance(found, dict):
                raise self.misshapen(
                    resource, ("metadata", key), dict, f"Kubernetes {key} map strings to strings"
                )
            for entry, value in found.items():
                if not isinstance(value, str):
                    raise self.misshapen(
                        resource, ("metadata", key, entry), str, f"Kubernetes {key} are strings"
                    )
        return resource

    def read(self, resource: Resource, field: Path, want: type | tuple[type, ...], use: str) -> Any:
        """The value at ``field`` of the object a template rendered as ``resource`` (a project's
        override may render anything): None when a mapping on the way lacks the key or holds null, or a
        list is shorter; a located E314 (:meth:`misshapen`) when a value on the way is not a mapping (a
        list, before an index) or the value is not ``want``. ``use`` says what mlopsctl reads it for."""
        value: Any = resource.inputs
        for depth, key in enumerate(field):
            if value is None:
                return None
            if isinstance(key, int):
                if not isinstance(value, list):
                    raise self.misshapen(resource, field[:depth], list, use)
                value = value[key] if key < len(value) else None
            elif isinstance(value, dict):
                value = value.get(key)
            else:
                raise self.misshapen(resource, field[:depth], dict, use)
        if value is not None and not isinstance(value, want):
            raise self.misshapen(resource, field, want, use)
        return value

    def misshapen(
        self, resource: Resource, field: Path, want: type | tuple[type, ...], use: str
    ) -> TemplateError:
        """The E314 of an object whose template rendered ``field`` as something other than ``want``,
        which ``use`` needs; located at the key of ``field`` (or of the nearest mapping holding it)
        in the template that rendered ``resource``."""
        found: Any = resource.inputs
        for key in field:
            found = found[key]
        dotted = format_path(field)
        wanted = " or ".join(map(_kind, want if isinstance(want, tuple) else (want,)))
        problem = f"renders {dotted} as {_kind(type(found))}, not {wanted}: {use}"
        return self.located(
            resource, field, problem, f"render {dotted} as {wanted}, as the built-in template does"
        )

    def expect(self, resource: Resource, field: Path, value: str, use: str) -> None:
        """A located E314 unless the template that rendered ``resource`` kept the string ``value`` at
        ``field`` (as the built-in template renders it), which ``use`` needs."""
        found = self.read(resource, field, str, use)
        if found != value:
            dotted = format_path(field)
            problem = (
                f"renders {dotted} as {found!r}, not {value!r}: {use}"
                if found
                else (f"leaves out {dotted} ({value!r}): {use}")
            )
            raise self.located(
                resource, field, problem, f"keep {dotted}: {value}, as the built-in template does"
            )

    def located(self, resource: Resource, field: Path, problem: str, hint: str) -> TemplateError:
        """The E314 ``problem`` of ``resource``, located at the key of ``field`` (or of the nearest
        mapping holding it) in the template that rendered it."""
        template = self.rendered_by.get(resource.address)
        if template is None:
            return TemplateError(f"{problem} (in {resource.address})", hint=hint)
        compiled = resolved_template(template, self.templates_dir)
        known = (field[:n] for n in range(len(field), 0, -1) if field[:n] in compiled.positions)
        line, column = compiled.positions.get(next(known, ()), (1, 1))
        return TemplateError(problem, compiled.file, line, column, hint)

    def address(self, type_token: str, name: str) -> str:
        return address_of(self.target, type_token, name)

    def project_number(self) -> JSON:
        """The target project's number, unknown at compile time: the Pulumi program looks it up."""
        return fn_invoke("gcp:organizations/getProject:getProject", {"projectId": self.gcp_project}, "number")


def _kind(kind: type) -> str:
    """How a type of JSON value is named in an error."""
    return next((name for t, name in _KINDS if issubclass(kind, t)), "null")
