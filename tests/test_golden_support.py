"""What a golden mismatch reports: files named, differing files as truncated unified diffs."""

from __future__ import annotations

import pathlib

import pytest
from golden_support import DIFF_LINES, DIFFED_FILES, expect_files, mismatches


def test_nothing_to_report_when_equal() -> None:
    assert mismatches({"a.txt": "x\n"}, {"a.txt": "x\n"}, "g") == []


def test_missing_and_extra_files_are_named() -> None:
    problems = mismatches({"old.txt": "x\n", "same.txt": "y\n"}, {"new.txt": "x\n", "same.txt": "y\n"}, "g")
    assert problems[1:] == [
        "missing: g/old.txt is in the golden set but was not produced",
        "extra: g/new.txt was produced but is not in the golden set",
    ]
    assert "--update-goldens" in problems[0]


def test_a_changed_file_is_a_unified_diff() -> None:
    _, diff = mismatches({"p.txt": "a\nweight = 5\nc\n"}, {"p.txt": "a\nweight = 25\nc\n"}, "g")
    assert diff.splitlines() == [
        "--- g/p.txt (golden)",
        "+++ g/p.txt (actual)",
        "@@ -1,3 +1,3 @@",
        " a",
        "-weight = 5",
        "+weight = 25",
        " c",
    ]


def test_a_long_diff_is_cut_and_says_how_much_is_left() -> None:
    expected = "".join(f"line {i}\n" for i in range(200))
    _, diff = mismatches({"big.txt": expected}, {"big.txt": expected.upper()}, "g")
    lines = diff.splitlines()
    assert len(lines) == DIFF_LINES + 1
    assert lines[-1] == f"... {3 + 400 - DIFF_LINES} more lines of diff in g/big.txt"


def test_past_the_first_diffs_the_other_changed_files_are_named() -> None:
    names = [f"f{i:02}.txt" for i in range(DIFFED_FILES + 2)]
    problems = mismatches(dict.fromkeys(names, "a\n"), dict.fromkeys(names, "b\n"), "g")
    diffs = [p for p in problems if p.startswith("--- ")]
    assert [d.splitlines()[0] for d in diffs] == [f"--- g/{n} (golden)" for n in names[:DIFFED_FILES]]
    assert problems[-2:] == [f"also differs: g/{n}" for n in names[DIFFED_FILES:]]


@pytest.mark.parametrize("whole_folder", [True, False])
def test_update_writes_what_is_then_expected(tmp_path: pathlib.Path, whole_folder: bool) -> None:
    folder = tmp_path / "golden"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "stale.txt").write_text("old\n")
    expect_files({"sub/plan.txt": "new\n"}, folder, update=True, whole_folder=whole_folder)
    assert (folder / "sub" / "plan.txt").read_text() == "new\n"
    assert (folder / "sub" / "stale.txt").exists() is not whole_folder
