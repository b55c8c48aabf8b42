"""A Bigtable online store scales within Bigtable's range: at least one node, at most ten times the
minimum (FeatureOnlineStore.Bigtable.AutoScaling.maxNodeCount)."""

from __future__ import annotations

import pathlib

import pytest
from helpers import WITH_DATA, diagnostics

STORE = "features:\n  onlineStores:\n    main:\n"


def _errors(tmp_path: pathlib.Path, store: str) -> list[tuple[str, str | None]]:
    """(``LINE:COLUMN: error CODE: message``, hint) of every error."""
    return [(m, h) for m, h in diagnostics(tmp_path, WITH_DATA + STORE + store) if " error " in m]


def _line(store: str, text: str) -> int:
    """The line of the file on which ``text`` of ``store`` is."""
    before = (WITH_DATA + STORE + store).split(text)[0]
    return before.count("\n") + 1


@pytest.mark.parametrize(
    ("scaling", "message", "hint"),
    [
        (
            "{minNodes: 2, maxNodes: 25}",
            "bigtable.maxNodes (25) is more than 10 times bigtable.minNodes (2), "
            "the most Bigtable autoscaling allows",
            "set maxNodes to at most 20, or minNodes to at least 3",
        ),
        (
            "{minNodes: 1, maxNodes: 11}",
            "bigtable.maxNodes (11) is more than 10 times bigtable.minNodes (1), "
            "the most Bigtable autoscaling allows",
            "set maxNodes to at most 10, or minNodes to at least 2",
        ),
        (
            "{minNodes: 3, maxNodes: 2}",
            "bigtable.maxNodes (2) is below bigtable.minNodes (3)",
            "set maxNodes to at least 3, or lower minNodes",
        ),
    ],
)
def test_a_bigtable_range_out_of_bounds_is_located_at_max_nodes(
    tmp_path: pathlib.Path, scaling: str, message: str, hint: str
) -> None:
    store = f"      type: bigtable\n      bigtable: {scaling}\n"
    [(first, found_hint)] = _errors(tmp_path, store)
    line, column, rest = first.split(":", 2)
    assert int(line) == _line(store, "bigtable: {")
    assert store.splitlines()[1][int(column) - 1 :].startswith(scaling.split("maxNodes: ")[1])
    assert rest == f" error E205: online store 'main': {message}"
    assert found_hint == hint


@pytest.mark.parametrize(
    "store",
    [
        "      type: bigtable\n      bigtable: {minNodes: 2, maxNodes: 20}\n",  # exactly 10x
        "      type: bigtable\n      bigtable: {minNodes: 4, maxNodes: 4}\n",  # a fixed size
        "      type: bigtable\n",  # the defaults: 1 to 3
        "      type: optimized\n      bigtable: {minNodes: 1, maxNodes: 50}\n",  # ignored
    ],
)
def test_a_range_bigtable_allows_passes(tmp_path: pathlib.Path, store: str) -> None:
    assert _errors(tmp_path, store) == []


def test_at_least_one_node(tmp_path: pathlib.Path) -> None:
    [(message, _)] = _errors(tmp_path, "      type: bigtable\n      bigtable: {minNodes: 0, maxNodes: 3}\n")
    assert " error E205: " in message and "features.onlineStores.main.bigtable.minNodes" in message
