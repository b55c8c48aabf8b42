"""Whether output to a stream may be coloured: the one rule for mlopsctl's views and the logs of
local runs."""

from __future__ import annotations

import os
from typing import TextIO


def use_colour(stream: TextIO, no_color_flag: bool) -> bool:
    """Colour only on a terminal, and never with ``--no-color`` or a non-empty ``NO_COLOR``
    (https://no-color.org)."""
    if no_color_flag or os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except ValueError:  # a closed stream
        return False
