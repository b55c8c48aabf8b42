"""A test fake of the Cloud Workflows runtime: runs the part of the Workflows syntax that mlopsctl emits,
with Google's documented semantics, its HTTP calls answered by a handler of the test.

Subworkflows with ``params`` (and defaults), each a list of steps: ``assign`` (plain names), ``call``
with ``args``/``result`` (a subworkflow, ``http.get`` or ``http.post``), ``switch`` (conditions with
``assign``, ``steps``, ``next``, ``return`` or ``raise``), ``steps``, ``try``/``except`` with ``as``,
``return``, ``raise`` and ``next`` (a step of the same or an enclosing list, or ``end``), at most
:data:`STEP_LIMIT` steps an execution. Expressions ``${...}`` are parsed with :mod:`ast` after one
translation (the upper-case ``AND``/``OR``/``NOT`` to Python's) and only an allow-listed node set is
evaluated; ``true``/``false``/``null`` are names. Anything else is a :class:`DefinitionError`, which a
workflow's ``except`` never catches: the test fails instead of a handler hiding it.
"""

from __future__ import annotations

import ast
import base64
import binascii
import io
import json
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import yaml

JSON = Any
Scope = dict[str, JSON]
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KINDS = {"assign": {"next"}, "switch": {"next"}, "steps": {"next"}, "return": set(), "raise": set()}
KINDS |= {"call": {"args", "result", "next"}, "try": {"except", "next"}}
"""Each kind of step and the keys it may have besides its own."""
BRANCH = {"condition", "assign", "steps", "next", "return", "raise"}
LITERALS: dict[str, JSON] = {"true": True, "TRUE": True, "false": False, "FALSE": False, "null": None}
STEP_LIMIT = 100_000
"""Steps an execution may run (Workflows' limits): a workflow that loops forever fails, not hangs, a test."""
HTTP_ARGS = {"http.get": {"url", "headers", "query", "auth"}}
HTTP_ARGS["http.post"] = HTTP_ARGS["http.get"] | {"body"}


class DefinitionError(Exception):
    """A definition Workflows would refuse, or syntax this fake does not implement."""


class WorkflowError(Exception):
    """An error raised in an execution: the map (``message``, ``tags``...) that ``except: as:`` binds."""

    def __init__(self, value: JSON) -> None:
        super().__init__(value)
        self.value = value

    @classmethod
    def of(cls, tag: str, message: str, **extra: JSON) -> WorkflowError:
        return cls({"message": message, "tags": [tag], **extra})


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    """With the query, URL-encoded."""
    headers: dict[str, str]
    body: bytes | None


@dataclass(frozen=True)
class Response:
    code: int
    body: bytes
    headers: dict[str, str]


Transport = Callable[[Request], Response]


class _Return(Exception):
    def __init__(self, value: JSON) -> None:
        self.value = value


class _Jump(Exception):
    def __init__(self, target: str) -> None:
        self.target = target


def _only(item: JSON, what: str) -> tuple[str, JSON]:
    if not isinstance(item, dict) or len(item) != 1:
        raise DefinitionError(f"{what} must be a map of one key: {item!r}")
    ((key, value),) = item.items()
    return str(key), value


class Workflow:
    """A deployed workflow (its YAML source); :meth:`execute` runs one execution."""

    def __init__(self, source: str, transport: Transport) -> None:
        self.subworkflows: dict[str, JSON] = yaml.safe_load(source)
        self.transport = transport
        self._ran = 0
        if not isinstance(self.subworkflows, dict) or "main" not in self.subworkflows:
            raise DefinitionError("only a workflow of subworkflows, with 'main', is implemented")

    def execute(self, argument: JSON = None) -> JSON:
        """The execution's result (JSON, as the Executions API returns it); raises :class:`WorkflowError`
        if the execution fails. ``argument`` is what Eventarc passes: the event."""
        params = self.subworkflows["main"].get("params", [])
        if len(params) > 1:
            raise DefinitionError("main takes at most one parameter: the runtime argument")
        self._ran = 0
        result = self._call("main", {params[0]: argument} if params else {})
        try:
            return json.loads(json.dumps(result))
        except TypeError as error:  # bytes
            raise WorkflowError.of("TypeError", f"the result is not JSON: {error}") from None

    def _call(self, name: str, args: dict[str, JSON]) -> JSON:
        scope: Scope = {}
        for param in self.subworkflows[name].get("params", []):
            key, default = _only(param, "a parameter") if isinstance(param, dict) else (param, ...)
            if key not in args and default is ...:
                raise DefinitionError(f"{name} called without its parameter '{key}'")
            scope[key] = args.pop(key, default)
        if args:
            raise DefinitionError(f"{name} has no parameters {sorted(args)}")
        try:
            self._steps(self.subworkflows[name]["steps"], scope)
        except _Return as done:
            return done.value
        except _Jump as jump:
            raise DefinitionError(f"no step '{jump.target}' to jump to in {name}") from None
        return None

    def _steps(self, steps: list[JSON], scope: Scope) -> None:
        named = [_only(step, "a step") for step in steps]
        names = [name for name, _ in named]
        if len(set(names)) != len(names):
            raise DefinitionError(f"step names repeat: {names}")
        index = 0
        while index < len(named):
            try:
                target = self._step(named[index][1], scope)
            except _Jump as jump:
                if jump.target not in names:
                    raise
                target = jump.target
            if target == "end":
                raise _Return(None)
            if target is None:
                index += 1
            elif target in names:
                index = names.index(target)
            else:
                raise _Jump(target)

    def _step(self, body: JSON, scope: Scope) -> str | None:
        """Run one step; the step to go to next, if not the following one."""
        self._ran += 1
        if self._ran > STEP_LIMIT:
            raise WorkflowError.of("ResourceLimitError", f"over {STEP_LIMIT:,} steps run")
        kinds = set(body) & set(KINDS) if isinstance(body, dict) else set()
        if len(kinds) != 1 or set(body) - kinds - KINDS[next(iter(kinds))]:
            raise DefinitionError(f"a step this fake does not know: {body!r}")
        after: str | None = body.get("next")
        if "assign" in body:
            self._assign(body["assign"], scope)
        elif "call" in body:
            result = self._invoke(body["call"], self._value(body.get("args", {}), scope))
            if "result" in body:
                scope[body["result"]] = result
        elif "switch" in body:
            for branch in body["switch"]:
                if set(branch) - BRANCH or "condition" not in branch:
                    raise DefinitionError(f"a switch condition this fake does not know: {branch!r}")
                if _boolean(self._value(branch["condition"], scope), branch["condition"]):
                    return self._branch(branch, scope) or after
        elif "steps" in body:
            self._steps(body["steps"], scope)
        elif "try" in body:
            return self._try(body["try"], body.get("except"), scope) or after
        elif "return" in body:
            raise _Return(self._value(body["return"], scope))
        else:
            raise WorkflowError(self._value(body["raise"], scope))
        return after

    def _branch(self, branch: dict[str, JSON], scope: Scope) -> str | None:
        if "assign" in branch:
            self._assign(branch["assign"], scope)
        if "steps" in branch:
            self._steps(branch["steps"], scope)
        if "return" in branch:
            raise _Return(self._value(branch["return"], scope))
        if "raise" in branch:
            raise WorkflowError(self._value(branch["raise"], scope))
        return branch.get("next")

    def _try(self, block: JSON, handler: JSON, scope: Scope) -> str | None:
        if not isinstance(handler, dict) or set(handler) != {"as", "steps"}:
            raise DefinitionError(f"an except this fake does not know (retry?): {handler!r}")
        try:
            return self._step(block, scope)
        except WorkflowError as error:
            scope[handler["as"]] = error.value
            self._steps(handler["steps"], scope)
            return None

    def _assign(self, items: list[JSON], scope: Scope) -> None:
        for item in items:
            target, value = _only(item, "an assignment")
            if not NAME.fullmatch(target):
                raise DefinitionError(f"assignment to '{target}': only plain names are implemented")
            scope[target] = self._value(value, scope)

    def _invoke(self, name: str, args: JSON) -> JSON:
        if not isinstance(args, dict):
            raise DefinitionError(f"args of {name} must be a map")
        if name in self.subworkflows and name != "main":
            return self._call(name, dict(args))
        if name in HTTP_ARGS:
            return self._http(name, args)
        raise DefinitionError(f"call of '{name}': not a subworkflow nor a function this fake implements")

    def _value(self, value: JSON, scope: Scope) -> JSON:
        """``value`` with its expressions evaluated: a string that is one ``${...}`` is an expression;
        Workflows does not interpolate one into a longer string."""
        if isinstance(value, str):
            if value.startswith("${") and value.endswith("}"):
                return Expression(value[2:-1], scope).value()
            if "${" in value:
                raise DefinitionError(f"'${{' inside a string that is not one expression: {value!r}")
            return value
        if isinstance(value, list):
            return [self._value(item, scope) for item in value]
        if isinstance(value, dict):
            if any("${" in str(key) for key in value):
                raise DefinitionError(f"expressions in map keys are not implemented: {sorted(value)}")
            return {key: self._value(item, scope) for key, item in value.items()}
        return value

    def _http(self, name: str, args: dict[str, JSON]) -> JSON:
        """``http.get``/``http.post``: the response map; ``HttpError`` for a status >= 400."""
        if set(args) - HTTP_ARGS[name] or not isinstance(args.get("url"), str):
            raise DefinitionError(f"{name} with args {sorted(args)}: this fake takes {HTTP_ARGS[name]}")
        url, headers = args["url"], dict(args.get("headers") or {})
        if args.get("query"):
            query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in args["query"].items()}
            url += ("&" if urlsplit(url).query else "?") + urlencode(query, doseq=True)
        auth = args.get("auth")
        if auth is not None:
            if auth.get("type") != "OAuth2" or not (urlsplit(url).hostname or "").endswith(".googleapis.com"):
                raise DefinitionError(f"auth {auth!r} to {url}: only OAuth2 to Google APIs is implemented")
            headers["Authorization"] = "Bearer fake-oauth2-token"
        body = None
        if "body" in args:  # no Content-Type given, not bytes: JSON
            body = json.dumps(args["body"]).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        response = self.transport(Request(name.removeprefix("http.").upper(), url, headers, body))
        received = response.headers.get("Content-Type", "")
        parsed: JSON = response.body
        if received.startswith("application/json"):
            parsed = json.loads(response.body or b"null")
        elif received.startswith("text/"):
            parsed = response.body.decode()
        result = {"body": parsed, "code": response.code, "headers": response.headers}
        if response.code >= 400:
            message = f"HTTP server responded with error code {response.code}"
            raise WorkflowError.of("HttpError", message, **result)
        return result


def _map_get(mapping: JSON, keys: JSON) -> JSON:
    path = [keys] if isinstance(keys, str) else keys
    if not isinstance(path, list) or not all(isinstance(k, str) for k in path):
        raise WorkflowError.of("TypeError", f"map.get keys must be a string or a list of strings: {keys!r}")
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _base64_decode(data: JSON, padding: bool = True) -> bytes:
    if not isinstance(data, str):
        raise WorkflowError.of("TypeError", "base64.decode takes a string")
    try:
        return base64.b64decode(data if padding else data + "=" * (-len(data) % 4), validate=True)
    except binascii.Error as error:
        raise WorkflowError.of("ValueError", f"not Base64: {error}") from None


def _json_decode(data: JSON) -> JSON:
    """Bytes are UTF-8 text."""
    if not isinstance(data, bytes | str):
        raise WorkflowError.of("TypeError", "json.decode takes bytes or a string")
    try:
        return json.loads(data.decode() if isinstance(data, bytes) else data)
    except ValueError as error:  # not UTF-8, not JSON
        raise WorkflowError.of("ValueError", f"not JSON: {error}") from None


FUNCTIONS: dict[str, Callable[..., JSON]] = {
    "base64.decode": _base64_decode,
    "json.decode": _json_decode,
    "map.get": _map_get,
}
"""The standard library functions an expression may call (``http.*`` are calls of steps only)."""


def _boolean(value: JSON, what: JSON) -> bool:
    """Conditions and the operands of ``and``, ``or``, ``not`` must be booleans."""
    if not isinstance(value, bool):
        raise WorkflowError.of("TypeError", f"{what!r} is {value!r}, not a boolean")
    return value


def _equal(left: JSON, right: JSON) -> bool:
    """Values of different types are unequal (an int and a double compare as numbers)."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    return bool(left == right) if numbers or type(left) is type(right) else False


@dataclass
class Expression:
    """One ``${...}`` expression of a workflow, evaluated in ``scope``."""

    text: str
    scope: Scope

    def value(self) -> JSON:
        tokens = tokenize.generate_tokens(io.StringIO(self.text).readline)
        words = {"AND": "and", "OR": "or", "NOT": "not"}
        try:
            python = tokenize.untokenize(
                t._replace(string=words.get(t.string, t.string)) if t.type == tokenize.NAME else t
                for t in tokens
            )
            tree = ast.parse(python.strip(), mode="eval")
        except (SyntaxError, tokenize.TokenError) as error:
            raise DefinitionError(f"expression {self.text!r}: {error}") from None
        return self._eval(tree.body)

    def _eval(self, node: ast.expr) -> JSON:
        match node:
            case ast.Constant(value=str() | int() | float() | bool() as value):
                return value
            case ast.Name(id=name) if name in LITERALS:
                return LITERALS[name]
            case ast.Name(id=name):
                if name not in self.scope:
                    raise DefinitionError(f"expression {self.text!r}: variable '{name}' is not defined")
                return self.scope[name]
            case ast.Attribute(value=base, attr=key):
                return self._lookup(self._eval(base), key)
            case ast.Subscript(value=base, slice=index) if not isinstance(index, ast.Slice):
                return self._lookup(self._eval(base), self._eval(index))
            case ast.Compare(left=left, ops=[op], comparators=[right]):
                return self._compare(op, self._eval(left), self._eval(right))
            case ast.BoolOp(op=op, values=values):
                stop = isinstance(op, ast.Or)
                for item in values:
                    if self._bool(item) is stop:
                        return stop
                return not stop
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not self._bool(operand)
            case ast.List(elts=items):
                return [self._eval(item) for item in items]
            case ast.Dict(keys=keys, values=values) if all(key is not None for key in keys):
                return {self._eval(k): self._eval(v) for k, v in zip(keys, values, strict=True) if k}
            case ast.Call(func=func, args=args, keywords=[]) if ast.unparse(func) in FUNCTIONS:
                return FUNCTIONS[ast.unparse(func)](*(self._eval(arg) for arg in args))
        raise DefinitionError(f"expression {self.text!r}: {ast.unparse(node)!r} is not implemented")

    def _bool(self, node: ast.expr) -> bool:
        return _boolean(self._eval(node), ast.unparse(node))

    def _lookup(self, base: JSON, key: JSON) -> JSON:
        if isinstance(base, dict) and isinstance(key, str):
            if key not in base:
                raise WorkflowError.of("KeyError", f"key not found: {key}")
            return base[key]
        if isinstance(base, list) and isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(base):
                raise WorkflowError.of("IndexError", f"list index out of range: {key}")
            return base[key]
        raise WorkflowError.of("TypeError", f"{self.text!r}: cannot index {type(base).__name__} by {key!r}")

    def _compare(self, op: ast.cmpop, left: JSON, right: JSON) -> bool:
        if isinstance(op, ast.Eq | ast.NotEq):
            return _equal(left, right) is isinstance(op, ast.Eq)
        if isinstance(op, ast.In):
            if isinstance(right, dict):  # a map: its keys
                return isinstance(left, str) and left in right
            if isinstance(right, list):
                return any(_equal(left, item) for item in right)
            raise WorkflowError.of("TypeError", f"{self.text!r}: 'in' takes a list or a map")
        raise DefinitionError(f"expression {self.text!r}: {type(op).__name__} is not implemented")
