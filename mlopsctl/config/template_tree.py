"""The compiled form of a template: a tree of constants and sandboxed expressions.

:func:`compile_text` finds the template's ``{{ }}`` spans with Jinja's own lexer (refusing
statements and comments), puts a unique placeholder scalar in for each, parses the YAML once
(JSON data only: no duplicate keys, timestamps or merge keys) and compiles each expression once in
Jinja's immutable sandbox. A placeholder must be a whole plain YAML key or value. Rendering walks
the tree: constants are copied, expressions evaluated, and what ``| tojson`` marks is copied in as
plain JSON data. Every error is located at its line and column in the template.
"""

from __future__ import annotations

import bisect
import functools
import pathlib
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlopsctl.config.template_sandbox import evaluate, sandbox

HINT = (
    "a template is YAML whose keys and values may be whole '{{ expression | tojson }}' placeholders, "
    "evaluated in Jinja's sandbox (see docs/templates.md)"
)
_REFUSED = {
    "block_begin": (
        "has a statement ('{%'): templates hold no statements",
        "compute the value inline, as in '{{ (a if condition else b) | tojson }}'",
    ),
    "raw_begin": ("has a statement ('{% raw %}'): templates hold no statements", HINT),
    "comment_begin": ("has a Jinja comment ('{#')", "write a YAML comment ('# ...') instead"),
}
_JSON_SCALAR_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null")}
_STR_TAG = "tag:yaml.org,2002:str"
_BARE_VARIABLE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\|\s*tojson\s*")
_LITERALS = frozenset({"true", "false", "none"})
Values = Mapping[str, Any]
FieldPath = tuple[str | int, ...]


class TemplateError(Exception):
    """A template is missing, broken, or produced something that is not a Kubernetes object.

    ``problem`` says what is wrong with the template; ``file``, ``line`` and ``column`` say where,
    when the fault is in a template file; ``hint`` how to fix it.
    """

    def __init__(
        self,
        problem: str,
        file: pathlib.Path | None = None,
        line: int = 1,
        column: int = 1,
        hint: str = HINT,
    ) -> None:
        self.problem, self.message = problem, f"template {problem}"
        super().__init__(self.message)
        self.file, self.line, self.column, self.hint = file, line, column, hint
        self.shown = str(file) if file else None

    def __str__(self) -> str:
        """The error as a located diagnostic is shown, when it is located."""
        if not self.shown:
            return self.message
        return f"{self.shown}:{self.line}:{self.column}: error E314: {self.message}\n  hint: {self.hint}"

    def shown_from(self, base_dir: pathlib.Path, config_display: str) -> TemplateError:
        """This error, its file named as the user names it: beside ``config_display``, the mlops.yaml
        whose folder is ``base_dir``."""
        base = base_dir.resolve()
        for file in (self.file.resolve(), self.file.absolute()) if self.file is not None else ():
            if file.is_relative_to(base):  # a link that leaves the folder is named as the project has it
                relative = file.relative_to(base)
                self.shown = posixpath.join(posixpath.dirname(config_display), relative.as_posix())
                break
        return self


class _Escaped:
    """What ``tojson`` returns: the only result an expression may have."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


@dataclass(frozen=True)
class _Const:
    value: Any


@dataclass(frozen=True)
class _Expr:
    """One ``{{ expression }}``, compiled, and where it is."""

    source: str
    run: Callable[..., object]
    file: pathlib.Path
    line: int
    column: int
    variable: str | None = None
    """The name a bare ``{{ name | tojson }}`` reads: looked up directly, as Jinja would, when given."""

    def error(self, problem: str) -> TemplateError:
        return TemplateError(problem, self.file, self.line, self.column)

    def value(self, values: Values) -> Any:
        try:
            if self.variable is not None and self.variable in values:
                return _plain(values[self.variable])
            result = evaluate(self.run, values)
            if type(result) is _Escaped:
                return _plain(result.value)
        except Exception as exc:
            why = str(exc) or (
                "it needs more memory than there is" if isinstance(exc, MemoryError) else type(exc).__name__
            )
            raise self.error(f"value '{self.shown}' cannot be computed: {why}") from None
        raise self.error(f"value '{self.shown}' is not escaped: pipe it through '| tojson'")

    @property
    def shown(self) -> str:
        compact = " ".join(self.source.split())
        return "{{ " + (compact if len(compact) <= 60 else compact[:57] + "...") + " }}"


@dataclass(frozen=True)
class _Seq:
    items: tuple[_Part, ...]


@dataclass(frozen=True)
class _Map:
    entries: tuple[tuple[str | _Expr, _Part], ...]
    constant_keys: frozenset[str]


_Part = _Const | _Expr | _Seq | _Map


@dataclass(frozen=True)
class Template:
    """A compiled template file: its tree, and where its identity fields are written."""

    file: pathlib.Path
    root: _Part
    positions: Mapping[FieldPath, tuple[int, int]]

    def render(self, values: Values) -> Any:
        return _render(self.root, values)


def _render(part: _Part, values: Values) -> Any:
    if isinstance(part, _Const):
        return _copy(part.value)
    if isinstance(part, _Expr):
        return part.value(values)
    if isinstance(part, _Seq):
        return [_render(item, values) for item in part.items]
    out: dict[str, Any] = {}
    for key, value in part.entries:
        if isinstance(key, _Expr):
            name = key.value(values)
            if not isinstance(name, str):
                raise key.error(f"key is {type(name).__name__}, not a string")
            if name in out or name in part.constant_keys:
                raise key.error(f"key '{name}' is given twice")
            key = name
        out[key] = _render(value, values)
    return out


def _copy(value: Any) -> Any:
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """A copy of ``value`` as plain JSON data (tuples as lists); anything else is refused."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                k = _key(k)
            out[k] = v if type(v) in _SCALARS else _plain(v)
        return out
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS else _plain(v) for v in value]
    if isinstance(value, dict):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    for base in (bool, str, int, float):  # subclasses, such as enums
        if isinstance(value, base):
            return str.__str__(value) if base is str else base(value)
    if hasattr(value, "_fail_with_undefined_error"):
        value._fail_with_undefined_error()
    raise TypeError(f"a value of type {kind.__name__} is not JSON data")


def _key(key: object) -> str:
    """A mapping key as a plain string; a key that is no string is refused."""
    if not isinstance(key, str):
        raise TypeError("a mapping with keys that are not strings is not JSON data")
    return str.__str__(key)


@functools.cache
def _sandbox() -> Any:
    import jinja2

    def tojson(value: object) -> _Escaped:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return _Escaped(value)

    env = sandbox()
    env.filters["tojson"] = tojson
    return env


def compile_text(text: str, file: pathlib.Path) -> Template:
    """The tree of the template ``text``, read from ``file``."""
    return _Compiler(text, file).compile()


class _Compiler:
    """Placeholders in for the ``{{ }}`` spans of ``text``, the YAML parsed once, a tree built."""

    def __init__(self, text: str, file: pathlib.Path) -> None:
        self.text, self.file = text, file
        self.line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        self.spans = self.find_spans()
        """Each ``{{ }}``: its start and end in the template, and its expression."""
        prefix = "__template_value_"
        while prefix in text:
            prefix += "_"
        self.placeholder = re.compile(re.escape(prefix) + r"(\d+)__")
        pieces, last, self.moved = [], 0, [0]
        for i, (start, end, _) in enumerate(self.spans):
            pieces += [text[last:start], f"{prefix}{i}__"]
            self.moved.append(self.moved[-1] + start - last)  # where placeholder i starts
            self.moved.append(self.moved[-1] + len(pieces[-1]))  # and where it ends
            last = end
        self.substituted = "".join([*pieces, text[last:]])
        self.exprs = [self.expression(start, source) for start, _, source in self.spans]
        self.positions: dict[FieldPath, tuple[int, int]] = {}

    def where(self, offset: int) -> tuple[int, int]:
        """The 1-based line and column of ``offset`` in the template."""
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def error(self, problem: str, offset: int, hint: str = HINT) -> TemplateError:
        return TemplateError(problem, self.file, *self.where(offset), hint)

    def back(self, mark: Any) -> int:
        """The template offset of ``mark``, a position in the text with placeholders."""
        index: int = mark.index if mark is not None else 0
        after = bisect.bisect_right(self.moved, index, lo=1) - 1  # 2i+1: in placeholder i; 2i+2: after it
        if after == 0:
            return index
        start, end, _ = self.spans[(after - 1) // 2]
        return start if after % 2 else end + index - self.moved[after]

    def find_spans(self) -> list[tuple[int, int, str]]:
        """Every ``{{ }}`` of the template, found by Jinja's own lexer; statements are refused."""
        import jinja2

        text, spans, offset, opened = self.text, [], 0, None
        try:
            for _, token, value in _sandbox().lexer.tokeniter(text, str(self.file)):
                offset = text.find(value, offset)  # skips only what a '-' marker stripped
                assert offset >= 0, f"Jinja's lexer gave {value!r}, not in the template"
                if token in _REFUSED:
                    problem, hint = _REFUSED[token]
                    raise self.error(problem, offset, hint)
                if token == "variable_begin":
                    opened = (offset, offset + len(value))
                elif token == "variable_end" and opened is not None:
                    spans.append((opened[0], offset + len(value.rstrip()), text[opened[1] : offset]))
                    opened = None
                offset += len(value)
        except jinja2.TemplateSyntaxError as exc:
            at = opened[0] if opened else self.line_starts[min(exc.lineno, len(self.line_starts)) - 1]
            raise self.error(f"does not parse: {exc.message}", at) from None
        if opened is not None:
            raise self.error("does not parse: '{{' is never closed", opened[0])
        return spans

    def expression(self, start: int, source: str) -> _Expr:
        import jinja2

        line, column = self.where(start)
        try:
            run = _sandbox().compile_expression(source, undefined_to_none=False)
        except jinja2.TemplateSyntaxError as exc:
            at = (line + exc.lineno - 1, column if exc.lineno == 1 else 1)
            raise TemplateError(f"does not parse: {exc.message}", self.file, *at) from None
        except (ValueError, RecursionError, MemoryError) as exc:  # a literal too large, nesting too deep
            raise TemplateError(f"cannot be compiled: {exc}", self.file, line, column) from None
        bare = _BARE_VARIABLE.fullmatch(source)
        variable = bare[1] if bare and bare[1].lower() not in _LITERALS else None
        return _Expr(source, run, self.file, line, column, variable)

    def compile(self) -> Template:
        import yaml

        loader = yaml.SafeLoader(self.substituted)
        try:
            node = loader.get_single_node()
            if node is None:
                raise self.error("is empty: it must be one Kubernetes object", 0)
            return Template(self.file, self.build(loader, node, (), frozenset()), self.positions)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise self.error(f"is not valid YAML: {exc.problem or exc.context}", self.back(mark)) from None
        finally:
            loader.dispose()

    def build(self, loader: Any, node: Any, path: FieldPath, active: frozenset[int]) -> _Part:
        """The tree of ``node`` (at ``path`` in the object; ``active``: the nodes it is inside)."""
        import yaml

        offset = self.back(node.start_mark)
        if id(node) in active:
            raise self.error("has a recursive YAML alias", offset)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(loader, node, offset)
        active |= {id(node)}
        if isinstance(node, yaml.SequenceNode) and node.tag == "tag:yaml.org,2002:seq":
            items = tuple(self.build(loader, n, (*path, i), active) for i, n in enumerate(node.value))
            if all(isinstance(p, _Const) for p in items):
                return _Const([p.value for p in items if isinstance(p, _Const)])
            return _Seq(items)
        if not isinstance(node, yaml.MappingNode) or node.tag != "tag:yaml.org,2002:map":
            raise self.not_json(node, offset)
        entries: list[tuple[str | _Expr, _Part]] = []
        for key_node, value_node in node.value:
            key, at = self.build(loader, key_node, path, active), self.back(key_node.start_mark)
            if isinstance(key, _Const) and isinstance(key.value, str):
                if any(key.value == k for k, _ in entries):
                    raise self.error(f"has a duplicate key '{key.value}'", at)
                self.positions.setdefault((*path, key.value), self.where(at))
                entries.append((key.value, self.build(loader, value_node, (*path, key.value), active)))
            elif isinstance(key, _Expr):
                entries.append((key, self.build(loader, value_node, (*path, "*"), active)))
            else:
                raise self.error("has a key that is not a string", at)
        constant = {k: v.value for k, v in entries if isinstance(k, str) and isinstance(v, _Const)}
        if len(constant) == len(entries):
            return _Const(constant)
        return _Map(tuple(entries), frozenset(k for k, _ in entries if isinstance(k, str)))

    def not_json(self, node: Any, offset: int) -> TemplateError:
        tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
        return self.error(
            f"has a YAML {tag} value, which is not JSON data",
            offset,
            "write a mapping, a list, a string (quote it), a number, a boolean or null",
        )

    def scalar(self, loader: Any, node: Any, offset: int) -> _Part:
        found = self.placeholder.search(node.value)
        if found is not None:
            i = int(found[1])
            if found[0] != node.value or node.style is not None or node.tag != _STR_TAG:
                raise self.error(
                    "has an expression that is not a whole YAML value or key",
                    self.spans[i][0],
                    "write the whole value as one '{{ expression | tojson }}' (join strings inside it: "
                    "'{{ (\"prefix-\" ~ name) | tojson }}')",
                )
            return self.exprs[i]
        if node.tag not in _JSON_SCALAR_TAGS:
            raise self.not_json(node, offset)
        return _Const(loader.construct_object(node))
