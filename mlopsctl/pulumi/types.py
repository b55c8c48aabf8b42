"""From graph values to the Python SDKs: type tokens to classes, camelCase inputs to ``*Args``.

Each provider package registers, for every module, the type tokens it serves
and the Python class of each (``pulumi_gcp/__init__.py``); a token is looked up
there, so ``gcp:serviceaccount/iAMMember:IAMMember`` is found without guessing
how its name is spelt in Python.

Inputs in the graph use the provider's (camelCase) property names, nested too.
They become instances of the generated ``*Args`` input types, each key mapped
to its Python name through the type's own getters (``@pulumi.getter(name=...)``),
which is the table the SDK uses to translate back to the wire. A key the type
does not declare is an error: passed through as a dict, it would reach the
provider untranslated or not at all.
"""

from __future__ import annotations

import collections.abc
import importlib
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from mlopsctl.config.diagnostics import did_you_mean

PACKAGES = {"gcp": "pulumi_gcp", "kubernetes": "pulumi_kubernetes"}
"""Pulumi package name → Python package of its SDK."""

Resolve = Callable[[Mapping[str, Any]], Any]
"""Turns a deferred value (``{"fn::...": ...}``) into an Output."""


class InputError(ValueError):
    """A graph value the provider's SDK does not accept (a build bug): names the path and the key."""


def split_token(token: str) -> tuple[str, str, str]:
    """``gcp:storage/bucket:Bucket`` → (``gcp``, ``storage/bucket``, ``Bucket``)."""
    parts = token.split(":")
    if len(parts) != 3 or not all(parts):
        raise InputError(f"not a Pulumi type token: {token!r}")
    return parts[0], parts[1], parts[2]


def resource_class(token: str) -> type | None:
    """The SDK class registered for ``token``; None for a package that serves no such type."""
    from pulumi.runtime.rpc import get_resource_module

    package, module, _ = split_token(token)
    if package not in PACKAGES:
        raise InputError(f"{token}: no Python SDK known for package {package!r}")
    importlib.import_module(PACKAGES[package])  # registers the package's modules
    registered = get_resource_module(package, module, "")
    info: dict[str, Any] = getattr(registered, "mod_info", {})
    class_name = info.get("classes", {}).get(token)
    if class_name is None:
        return None
    found: type = getattr(importlib.import_module(info["fqn"]), class_name)
    return found


def args_class(cls: type) -> type:
    """The input type of resource class ``cls``: that of the ``args`` of its constructor's overloads."""
    namespace = vars(importlib.import_module(cls.__module__))
    constructor: Any = vars(cls)["__init__"]
    for overload in typing.get_overloads(constructor):
        parameter = inspect.signature(overload).parameters.get("args")
        hint = getattr(parameter, "annotation", None)
        if isinstance(hint, str):
            hint = eval(hint, namespace)  # a forward reference of the generated module
        found = _input_type(unwrap_optional(hint)) if hint is not None else None
        if found is not None:
            return found
    raise InputError(f"{cls.__module__}.{cls.__name__} takes no input type")


def function(token: str) -> Callable[..., Any]:
    """The ``*_output`` function of an invoke token: ``gcp:organizations/getProject:getProject``."""
    package, module, name = split_token(token)
    if package not in PACKAGES:
        raise InputError(f"{token}: no Python SDK known for package {package!r}")
    sdk = importlib.import_module(f"{PACKAGES[package]}.{module.split('/')[0]}")
    found = getattr(sdk, f"{snake_case(name)}_output", None)
    if found is None:
        raise InputError(f"{token}: {sdk.__name__} has no function {snake_case(name)}_output")
    result: Callable[..., Any] = found
    return result


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def python_name(cls: type, pulumi_name: str) -> str:
    """The attribute of an SDK class (resource or result type) that holds property ``pulumi_name``."""
    for klass in cls.__mro__:
        for attr, value in vars(klass).items():
            if isinstance(value, property) and getattr(value.fget, "_pulumi_name", None) == pulumi_name:
                return attr
    raise InputError(f"{cls.__name__} has no property {pulumi_name!r}")


def to_args(cls: type, values: Mapping[str, Any], where: str, resolve: Resolve) -> Any:
    """An instance of input type ``cls`` from provider-named ``values``; unknown keys are refused."""
    from pulumi._types import input_type_py_to_pulumi_names, input_type_types

    names = {pulumi: py for py, pulumi in input_type_py_to_pulumi_names(cls).items()}
    types = input_type_types(cls)
    for key in values:
        if key not in names:
            hint = did_you_mean(key, names) or f"it takes {', '.join(sorted(names))}"
            raise InputError(f"{where}: {cls.__name__} has no input {key!r} ({hint})")
    return cls(**{names[k]: convert(types.get(k), v, f"{where}.{k}", resolve) for k, v in values.items()})


def convert(typ: Any, value: Any, where: str, resolve: Resolve) -> Any:
    """``value`` shaped for the SDK type ``typ`` (None: no type information, kept as JSON)."""
    if is_deferred(value):
        return resolve(value)
    typ = _unwrap(typ)
    if isinstance(value, Mapping):
        input_cls = _input_type(typ)
        if input_cls is not None:
            return to_args(input_cls, value, where, resolve)
        item = _type_arg(typ, collections.abc.Mapping, 1)
        return {k: convert(item, v, f"{where}.{k}", resolve) for k, v in value.items()}
    if isinstance(value, list):
        item = _type_arg(typ, collections.abc.Sequence, 0)
        return [convert(item, v, f"{where}[{i}]", resolve) for i, v in enumerate(value)]
    return value


def is_deferred(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)).startswith("fn::")


def unwrap_optional(typ: Any) -> Any:
    from pulumi._types import unwrap_optional_type

    return unwrap_optional_type(typ)


def _unwrap(typ: Any) -> Any:
    from pulumi._types import unwrap_type

    return None if typ is None or typ is Any else unwrap_type(typ)


def _input_type(typ: Any) -> type | None:
    """The input type ``typ`` is, or the one member of a union that is one."""
    from pulumi._types import is_input_type

    candidates = typing.get_args(typ) if typing.get_origin(typ) is typing.Union else (typ,)
    found = [c for c in candidates if isinstance(c, type) and is_input_type(c)]
    return found[0] if len(found) == 1 else None


def _type_arg(typ: Any, origin: type, index: int) -> Any:
    """The item type of ``Sequence[T]`` (index 0) or ``Mapping[str, T]`` (index 1), else None."""
    found = typing.get_origin(typ)
    if isinstance(found, type) and issubclass(found, origin) and not issubclass(found, str):
        args = typing.get_args(typ)
        return args[index] if len(args) > index else None
    return None
