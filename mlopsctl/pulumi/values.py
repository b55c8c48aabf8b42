"""Deferred values of the graph, resolved as Pulumi YAML resolves them.

``{"fn::invoke": {"function", "arguments", "return"}}`` calls a provider function,
``{"fn::join": [delimiter, [values]]}`` joins strings, and
``{"fn::output": {"resource": address, "property": name}}`` reads an output of a
resource created earlier (``name`` may go deeper with dots: ``masterAuth.clusterCaCertificate``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from mlopsctl.pulumi.types import InputError, convert, function, python_name, snake_case, split_token


class Resolver:
    """Resolves deferred values against the resources created so far and the providers."""

    def __init__(self, providers: Callable[[str], Any]) -> None:
        self.created: dict[str, Any] = {}
        """Graph address → the Pulumi resource created for it."""
        self._providers = providers

    def __call__(self, value: Mapping[str, Any]) -> Any:
        (key, spec), *_ = value.items()
        handlers: dict[str, Callable[[Any], Any]] = {
            "fn::invoke": self._invoke,
            "fn::join": self._join,
            "fn::output": self._output,
        }
        if key not in handlers:
            raise InputError(f"unknown deferred value {key!r} (known: {', '.join(handlers)})")
        return handlers[key](spec)

    def output(self, address: str, path: str) -> Any:
        """The Output of property ``path`` (dotted) of the resource created for ``address``."""
        import pulumi

        resource = self.created.get(address)
        if resource is None:
            raise InputError(f"fn::output: {address} is not created before its use (add it to dependsOn)")
        head, *rest = path.split(".")
        result: pulumi.Output[Any] = getattr(resource, python_name(type(resource), head))
        for name in rest:
            result = result.apply(functools.partial(field, name=name))
        return result

    def _output(self, spec: Mapping[str, Any]) -> Any:
        return self.output(spec["resource"], spec["property"])

    def _join(self, spec: list[Any]) -> Any:
        import pulumi

        delimiter, values = spec
        parts = [convert(None, v, "fn::join", self) for v in values]
        return pulumi.Output.all(*parts).apply(lambda items: delimiter.join(items))

    def _invoke(self, spec: Mapping[str, Any]) -> Any:
        import pulumi

        token = spec["function"]
        call = function(token)
        params = inspect.signature(call).parameters
        arguments: dict[str, Any] = {}
        for key, value in spec.get("arguments", {}).items():
            if snake_case(key) not in params or key == "opts":
                raise InputError(f"fn::invoke {token}: no argument {key!r}")
            arguments[snake_case(key)] = convert(None, value, f"fn::invoke {token}.{key}", self)
        options = pulumi.InvokeOptions(provider=self._providers(split_token(token)[0]))
        result = call(**arguments, opts=options)
        returned = spec.get("return")
        return result.apply(lambda value: field(value, returned)) if returned else result


def field(value: Any, name: str) -> Any:
    """Property ``name`` (provider spelling) of a resolved output object or map."""
    from pulumi._types import is_output_type

    if isinstance(value, Mapping) and not is_output_type(type(value)):
        return value[name]
    return getattr(value, python_name(type(value), name))
