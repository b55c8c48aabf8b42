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
import posixpath
import types
from typing import Any

BUILTIN_TEMPLATES = pathlib.Path(__file__).resolve().parents[1] / "templates"
"""The top-level ``templates/`` folder, linked into the package so that wheels carry it."""


class TemplateError(Exception):
    """A template is missing, broken, or produced something that is not a Kubernetes object.

    ``file``, ``line`` and ``column`` say where in a template file, when the fault is in one.
    """

    def __init__(
        self, message: str, file: pathlib.Path | None = None, line: int = 1, column: int = 1
    ) -> None:
        super().__init__(message)
        self.message, self.file, self.line, self.column = message, file, line, column
        self.shown = str(file) if file else None

    def __str__(self) -> str:
        """The error as a located diagnostic is shown, when it is located."""
        if not self.shown:
            return self.message
        return (
            f"{self.shown}:{self.line}:{self.column}: error E314: {self.message}\n"
            "  hint: templates render in Jinja's sandbox; every value is piped through '| tojson' "
            "(see docs/templates.md)"
        )

    def shown_from(self, base_dir: pathlib.Path, config_display: str) -> TemplateError:
        """This error, its file named as the user names it: beside ``config_display``, the mlops.yaml
        whose folder is ``base_dir``."""
        if self.file is not None and self.file.resolve().is_relative_to(base_dir.resolve()):
            relative = self.file.resolve().relative_to(base_dir.resolve())
            self.shown = posixpath.join(posixpath.dirname(config_display), relative.as_posix())
        return self


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
                raise TemplateError(f"links outside its folder (to {real}): refused", pathlib.Path(filename))
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


def render_object(template: str, override_dir: pathlib.Path | None = None, **values: Any) -> dict[str, Any]:
    """Render ``kubernetes/<template>.yaml.j2`` with ``values`` and return the parsed object."""
    import jinja2
    import yaml

    name = f"kubernetes/{template}.yaml.j2"
    try:
        compiled = _environment(override_dir).get_template(name)
        text = compiled.render(**values)
    except jinja2.TemplateNotFound:
        raise TemplateError(f"template {name} not found") from None
    except TemplateError as exc:
        raise exc if exc.file else _in_template(exc.message, exc) from None
    except jinja2.TemplateError as exc:
        raise _in_template(str(exc), exc) from None
    file = pathlib.Path(compiled.filename) if compiled.filename else None
    try:
        obj = yaml.load(text, Loader=_strict_loader())  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1} of its output)" if mark else ""
        raise TemplateError(f"rendered invalid YAML{where}: {getattr(exc, 'problem', exc)}", file) from None
    _check_object(obj, file)
    return obj  # type: ignore[no-any-return]


def _in_template(message: str, exc: Exception) -> TemplateError:
    """``exc`` raised while rendering, located at the template line it came from.

    Jinja reports a syntax error's line; for an error while rendering, the line is that of the
    innermost traceback frame that runs template code. Jinja gives no column: the first tag on the
    line stands in for it.
    """
    file, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    if line is None:
        frame: types.TracebackType | None = exc.__traceback__
        while frame is not None:
            if frame.tb_frame.f_code.co_filename.endswith(".j2"):
                file, line = frame.tb_frame.f_code.co_filename, frame.tb_lineno
            frame = frame.tb_next
    if not file or not line:
        return TemplateError(message)
    path = pathlib.Path(file)
    try:
        text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    except (OSError, UnicodeDecodeError, IndexError):
        text = ""
    starts = [i for i in (text.find("{{"), text.find("{%")) if i >= 0]
    return TemplateError(message, path, line, min(starts) + 1 if starts else 1)


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


def _check_object(obj: Any, file: pathlib.Path | None) -> None:
    if not isinstance(obj, dict):
        raise TemplateError(f"must render one mapping, got {type(obj).__name__}", file)
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str):
            raise TemplateError(f"rendered an object without '{key}'", file)
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise TemplateError("rendered an object without metadata.name", file)
