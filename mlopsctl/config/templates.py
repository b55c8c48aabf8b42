"""Kubernetes objects from structural templates.

Every object's shape lives in ``templates/kubernetes/<name>.yaml.j2`` (a project may shadow any
of them from the folder ``project.templates`` names); the compiler computes only the values. A
template is YAML in which a whole key or value may be ``{{ expression | tojson }}``. It is compiled
once per folder into a tree: the YAML parsed once, each expression compiled once in Jinja's
immutable sandbox (no attribute starting with ``_``, no mutation, no calls into Python internals).
Rendering walks the tree and puts in what the expressions compute, as copies of plain JSON data,
so a value can never change the structure around it, and nothing is rendered to text and parsed
back. Statements (``{% %}``) are not part of the rule: a choice is an inline ``a if c else b``.

Templates are code from the project's pull requests: a template file whose real path leaves its
folder (a symlink to a host file) is refused rather than read, and an override may not change an
object's identity (apiVersion, kind, metadata.name and metadata.namespace are compared with what
the built-in template renders from the same values).
"""

from __future__ import annotations

import functools
import os
import pathlib
from typing import Any

from mlopsctl.config.source import NotRegularFile, read_regular
from mlopsctl.config.template_tree import FieldPath, Template, TemplateError, compile_text

__all__ = ["BUILTIN_TEMPLATES", "Template", "TemplateError", "compile_template", "render_object"]

BUILTIN_TEMPLATES = pathlib.Path(__file__).resolve().parents[1] / "templates"
"""The top-level ``templates/`` folder, linked into the package so that wheels carry it."""
MAX_TEMPLATE_BYTES = 1024 * 1024
IDENTITY = (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"))
"""What an override must render as the built-in template does."""


def render_object(template: str, override_dir: pathlib.Path | None = None, **values: Any) -> dict[str, Any]:
    """The object ``kubernetes/<template>.yaml.j2`` renders from ``values`` (plain JSON data)."""
    chosen = resolved_template(template, override_dir)
    obj = chosen.render(values)
    _check_object(obj, chosen.file)
    builtin = resolved_template(template, None)
    if chosen is not builtin:
        expected = builtin.render(values)
        for field in IDENTITY:
            got, want = _get(obj, field), _get(expected, field)
            if got != want:
                line, column = chosen.positions.get(field) or chosen.positions.get(field[:1], (1, 1))
                raise TemplateError(
                    f"renders {'.'.join(map(str, field))} {got!r} where the built-in one renders {want!r}: "
                    "an override may not change the object's kind/name/namespace",
                    chosen.file,
                    line,
                    column,
                    "change anything else; the identity of an object is mlopsctl's",
                )
    return obj  # type: ignore[no-any-return]


def _get(obj: Any, field: FieldPath) -> Any:
    for key in field:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


@functools.cache
def resolved_template(template: str, override_dir: pathlib.Path | None) -> Template:
    """The compiled ``kubernetes/<template>.yaml.j2`` of ``override_dir``, else the built-in one."""
    name = f"kubernetes/{template}.yaml.j2"
    for folder in (override_dir, BUILTIN_TEMPLATES):
        if folder is not None and os.path.lexists(folder / name):
            return compile_template(folder / name, folder)
    raise TemplateError(f"'{name}' is not found")


@functools.cache
def compile_template(path: pathlib.Path, folder: pathlib.Path) -> Template:
    """Read, check and compile the template ``path`` of ``folder`` (once per process)."""
    if not path.resolve().is_relative_to(folder.resolve()):
        raise TemplateError(
            f"links outside its folder (to {path.resolve()}): refused",
            path,
            hint="put the template itself (not a link to it) under the folder 'project.templates' names",
        )
    try:
        raw = read_regular(path, MAX_TEMPLATE_BYTES + 1)
        if len(raw) > MAX_TEMPLATE_BYTES:
            raise TemplateError(f"is larger than {MAX_TEMPLATE_BYTES // 1024} KiB", path)
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except (NotRegularFile, OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot be read ({exc})", path) from None
    return compile_text(text, path)


def _check_object(obj: Any, file: pathlib.Path) -> None:
    if not isinstance(obj, dict):
        raise TemplateError(f"must render one mapping, got {type(obj).__name__}", file)
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str):
            raise TemplateError(f"rendered an object without '{key}'", file)
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise TemplateError("rendered an object without metadata.name", file)
