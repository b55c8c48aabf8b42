"""The Jinja environment template expressions run in: the immutable sandbox, bounded in work and size.

Jinja's sandbox keeps an expression away from Python's internals but not from work: ``(x ** 99) **
9999999`` computes for hours, ``"x" * 10**9`` or ``"x" | center(10**9)`` allocates gigabytes, and
Jinja folds constant expressions while compiling, so ``validate`` itself would do that work. Here the
operators that can make a value larger than their operands (``*``, ``**``, ``%``, ``+``, ``~``),
every filter and every call run at render time only (nothing is folded), and each is refused, before
it runs where its size can be foreseen and after it ran otherwise, when its result would exceed
:data:`MAX_SIZE` characters or items (or :data:`MAX_INT_BITS` bits), or when one evaluation of an
expression has made more than :data:`BUDGET` characters and items in all.
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

MAX_SIZE = 1 << 20
"""The most characters of a string, or items of a list or mapping, any operation may make."""
MAX_INT_BITS = 4096
BUDGET = 1 << 23
"""The most characters and items one evaluation of an expression may make, all operations together."""
_WIDE = re.compile(r"\d{7,}")
"""A width or precision in a format string that alone passes MAX_SIZE."""
_spent: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_work")


class WorkLimitError(Exception):
    """An expression asked for more work or a larger value than a template may."""


def evaluate(run: Callable[[Mapping[str, Any]], object], values: Mapping[str, Any]) -> object:
    """``run(values)`` with a fresh budget of work; its value, which literals alone can make large
    (a list of lists of long strings, no operation ever large), held to :data:`MAX_SIZE` in all."""
    token = _spent.set([0])
    try:
        value = run(values)
    finally:
        _spent.reset(token)
    _foresee(_deep_size(value), "the value")
    return value


def _size(value: object) -> int:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset | range):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value)
    return 1


def _deep_size(value: object, limit: int = MAX_SIZE) -> int:
    """The characters and items of ``value`` with everything it holds, counted as often as it is held
    (a list of one string repeated a million times is that string's length a million times); the
    count stops once it passes ``limit``, so a structure of shared parts is never walked in full."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes | range):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            if total <= limit:
                stack += item.keys()
                stack += item.values()
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            if total <= limit:
                stack += item
        if total > limit:
            return total
    return total


def _charge(amount: int) -> None:
    spent = _spent.get(None)
    if spent is not None:
        spent[0] += amount
        if spent[0] > BUDGET:
            raise WorkLimitError(f"the expression makes more than {BUDGET:,} characters and items in all")


def _foresee(estimate: int, what: str) -> None:
    if estimate > MAX_SIZE:
        raise WorkLimitError(
            f"{what} would make about {estimate:,} characters or items (at most {MAX_SIZE:,})"
        )


def _bounded(value: Any) -> Any:
    """``value`` checked against the limits; an iterator is collected into a list, item by item."""
    if isinstance(value, bool | float) or value is None:
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise WorkLimitError(f"an integer of more than {MAX_INT_BITS} bits")
        return value
    if isinstance(value, Iterator):
        items = []
        for item in value:
            items.append(item)
            _charge(1)
            _foresee(len(items), "the sequence")
        return items
    size = _size(value)
    _foresee(size, "the result")
    _charge(size)
    return value


def _check_format(text: object) -> None:
    if isinstance(text, str) and _WIDE.search(text):
        raise WorkLimitError("a format string with a width or precision of a million or more")


_SIZED_BY_NUMBERS = frozenset(
    {"'*'", "'%'", "'center'", "'ljust'", "'rjust'", "'zfill'", "'indent'", "'expandtabs'", "'batch'"}
    | {"'slice'", "'wordwrap'", "'truncate'", "'format'", "'format_map'", "'range'", "'lipsum'", "'map'"}
)
"""What may repeat or pad by a number it is given (``map`` passes its arguments to a filter that may);
elsewhere a number is a value of size 1."""


_SUMMED = frozenset(
    {"'dict'", "'Namespace'", "'Cycler'", "'attr'", "'default'", "'d'", "'first'", "'last'", "'items'"}
    | {"'dictsort'", "'groupby'", "'max'", "'min'", "'sort'", "'unique'", "'reverse'", "'list'", "'trim'"}
    | {"'get'", "'copy'", "'keys'", "'values'", "'strip'", "'lstrip'", "'rstrip'", "'split'", "'rsplit'"}
    | {"'splitlines'", "'partition'", "'rpartition'", "'removeprefix'", "'removesuffix'"}
)
"""What makes no more than its arguments hold, in time linear in them: it copies, merges, picks or
orders them (``dict(a, b=c)``, ``x.get(k, d)``, ``xs | sort``). Its result is sized by the sum of its
arguments' sizes; anything else by their product, as it may repeat one by another."""


def _foresee_call(values: Iterator[object], what: str) -> None:
    """Refuse a call whose result may pass the limits: the sum of its arguments' sizes when it only
    gathers them (:data:`_SUMMED`), else their product."""
    numbers_count = what in _SIZED_BY_NUMBERS
    sizes = [
        max(1, _size(v) if isinstance(v, int) else _deep_size(v))
        if numbers_count or not isinstance(v, int)
        else 1
        for v in values
    ]
    _foresee(sum(sizes) if what in _SUMMED else math.prod(sizes), what)


def _binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left <operator> right`` before it runs when its result would pass the limits."""
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right))
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        if right * left.bit_length() > MAX_INT_BITS:
            raise WorkLimitError(f"an integer of more than {MAX_INT_BITS} bits")
    elif operator == "*" and ints:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
            raise WorkLimitError(f"an integer of more than {MAX_INT_BITS} bits")
    elif operator == "*":
        _foresee_call(iter((left, right)), "'*'")
    elif operator == "%" and isinstance(left, str):
        _check_format(left)
        _foresee_call(iter((left, *(right if isinstance(right, tuple) else (right,)))), "'%'")
    elif operator == "+" and all(isinstance(v, str | list | tuple) for v in (left, right)):
        _foresee(_size(left) + _size(right), "'+'")


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` run with the limits and given the context, which also keeps Jinja from folding it."""
    import jinja2
    from jinja2.utils import _PassArg

    passes = _PassArg.from_obj(func)

    @jinja2.pass_context
    @functools.wraps(func)
    def bounded(context: Any, *args: Any, **kwargs: Any) -> Any:
        values = [_bounded(v) if isinstance(v, Iterator) else v for v in args]
        given: dict[_PassArg | None, tuple[Any, ...]] = {
            _PassArg.context: (context,),
            _PassArg.eval_context: (context.eval_ctx,),
            _PassArg.environment: (context.environment,),
        }
        first = given.get(passes, ())
        _foresee_call(iter((*values, *kwargs.values())), f"'{name}'")
        if name == "format" and values:
            _check_format(values[0])
        return _bounded(func(*first, *values, **kwargs))

    return bounded


def sandbox() -> Any:
    """A new environment of the kind every template expression is compiled in."""
    import jinja2
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.exceptions import SecurityError
    from jinja2.nodes import Concat
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generator(CodeGenerator):
        def visit_Concat(self, node: Concat, frame: Frame) -> None:
            """``a ~ b`` as a bounded join, never folded at compile time."""
            self.write("environment.bounded_concat((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class Bounded(ImmutableSandboxedEnvironment):
        code_generator_class = Generator
        intercepted_binops = frozenset({"*", "**", "%", "+"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _binop(operator, left, right)
            return _bounded(super().call_binop(context, operator, left, right))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            if not __self.is_safe_callable(__obj):
                raise SecurityError(f"{__obj!r} is not safely callable")
            owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
            name = getattr(__obj, "__name__", "call")
            given = (owner, *args) if isinstance(owner, str | list | tuple | dict) else args
            if name in ("format", "format_map"):
                _check_format(owner)
            _foresee_call(iter((*given, *kwargs.values())), f"'{name}'")
            return _bounded(__context.call(__obj, *args, **kwargs))

        @staticmethod
        def bounded_concat(parts: tuple[Any, ...]) -> str:
            texts, total = [], 0
            for part in parts:
                _foresee(total + _deep_size(part), "'~'")  # str() of a container holds all it holds
                texts.append(str(part))
                total += len(texts[-1])
                _foresee(total, "'~'")
            return str(_bounded("".join(texts)))

    env = Bounded(undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters = {name: _bounded_filter(name, f) for name, f in env.filters.items()}
    lipsum: Callable[..., Any] = env.globals["lipsum"]  # type: ignore[assignment]

    def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
        """Jinja's filler text, refused when ``n`` paragraphs of ``max`` words could pass the limits."""
        _foresee(n * max * 16, "'lipsum'")
        return lipsum(n, html, min, max)

    env.globals["lipsum"] = bounded_lipsum
    return env
