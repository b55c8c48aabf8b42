"""Kubernetes objects from Jinja2 templates, rendered safely.

Templates live in ``templates/kubernetes/`` (a project may shadow any of them
from the folder named by ``project.templates``). Rendering uses
StrictUndefined, and every ``{{ expression }}`` must go through ``tojson``:
a value that is not escaped is refused, so a user string can never change a
manifest's structure. The output is parsed back as YAML and checked before
it enters the resource graph.

Templates are code from the project's pull requests, so they render in Jinja's
immutable sandbox (no attribute starting with ``_``, no mutation, no calls into
Python internals), and a template file whose real path leaves its folder (a
symlink to a host file) is refused rather than read.
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

from mlopsctl.graph import JSON

BUILTIN_TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"
"""The top-level ``templates/`` folder, linked into the package so that wheels carry it."""


class TemplateError(Exception):
    """A template is missing, broken, or produced something that is not a Kubernetes object."""


@functools.cache
def _environment(override_dir: pathlib.Path | None) -> Any:
    import jinja2
    from markupsafe import Markup

    class Escaped(Markup):
        """Output of our ``tojson`` only: other safe strings (``| e``, ``| safe``) do not count."""

    def require_escaped(value: object) -> object:
        if type(value) is not Escaped:
            raise TemplateError(f"template value {value!r} is not escaped: pipe it through '| tojson'")
        return value

    def tojson(value: object) -> Escaped:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return Escaped(jinja2.utils.htmlsafe_json_dumps(value, dumps=json.dumps, sort_keys=True))

    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class ContainedLoader(jinja2.FileSystemLoader):
        """Reads a template only if its real path lies inside the folder it was found in."""

        def get_source(self, environment: Any, template: str) -> tuple[str, str, Any]:
            source, filename, uptodate = super().get_source(environment, template)
            real = pathlib.Path(filename).resolve()
            if not any(real.is_relative_to(pathlib.Path(p).resolve()) for p in self.searchpath):
                raise TemplateError(f"template {template} links outside its folder (to {real}): refused")
            return source, filename, uptodate

    search = [str(override_dir)] if override_dir else []
    search.append(str(BUILTIN_TEMPLATES))
    env = ImmutableSandboxedEnvironment(
        loader=ContainedLoader(search),
        undefined=jinja2.StrictUndefined,
        finalize=require_escaped,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["tojson"] = tojson
    return env


def render_object(template: str, override_dir: pathlib.Path | None = None, **values: JSON) -> dict[str, JSON]:
    """Render ``kubernetes/<template>.yaml.j2`` with ``values`` and return the parsed object."""
    import jinja2
    import yaml

    name = f"kubernetes/{template}.yaml.j2"
    try:
        text = _environment(override_dir).get_template(name).render(**values)
    except jinja2.TemplateNotFound:
        raise TemplateError(f"template {name} not found") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template {name}: {exc}") from None
    try:
        obj = yaml.load(text, Loader=_strict_loader())  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        raise TemplateError(f"template {name} rendered invalid YAML: {exc}") from None
    _check_object(name, obj)
    return obj  # type: ignore[no-any-return]


@functools.cache
def _strict_loader() -> Any:
    """libyaml's safe loader (rendering parses back thousands of objects), refusing duplicate keys."""
    import yaml

    class StrictLoader(yaml.CSafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

    return StrictLoader


def _check_object(name: str, obj: Any) -> None:
    if not isinstance(obj, dict):
        raise TemplateError(f"template {name} must render one mapping, got {type(obj).__name__}")
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str):
            raise TemplateError(f"template {name} rendered an object without '{key}'")
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise TemplateError(f"template {name} rendered an object without metadata.name")
