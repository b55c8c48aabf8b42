"""Colour for terminal views, in Terraform's scheme, as ANSI SGR codes.

``+`` green, ``-`` red, ``~`` yellow, a replacement's ``-/+`` as a red ``-`` and a green ``+``;
resource headers and ``Plan:`` bold, ``# forces replacement`` red. Only the marks are painted, so
the text without colour is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

RESET = "\x1b[0m"
BOLD = "\x1b[1m"
RED = "\x1b[31m"
GREEN = "\x1b[32m"
YELLOW = "\x1b[33m"


def _sgr(text: str, *codes: str) -> str:
    return f"{''.join(codes)}{text}{RESET}"


_SIGNS = {
    "+": _sgr("+", GREEN),
    "-": _sgr("-", RED),
    "~": _sgr("~", YELLOW),
    "-/+": f"{_sgr('-', RED)}/{_sgr('+', GREEN)}",
}


@dataclass(frozen=True)
class Palette:
    """Paints marks when ``enabled``; otherwise returns text as given."""

    enabled: bool

    def sign(self, symbol: str, width: int = 0) -> str:
        """``symbol`` right-aligned to ``width`` characters, the padding left unpainted."""
        pad = " " * (width - len(symbol))
        return pad + (_SIGNS.get(symbol, symbol) if self.enabled else symbol)

    def style(self, text: str, *codes: str) -> str:
        """``text`` in the SGR ``codes`` (``BOLD``, ``RED``...), reset after it."""
        return _sgr(text, *codes) if self.enabled else text


PLAIN = Palette(enabled=False)
ANSI = Palette(enabled=True)


def palette(color: bool) -> Palette:
    return ANSI if color else PLAIN
