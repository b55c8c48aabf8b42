"""Golden files: produced text compared with files under tests/, or written there with --update-goldens.

A mismatch fails with what a reviewer needs: each missing or extra file by name, and a unified
diff (golden → actual) of each file that differs, cut after ``DIFF_LINES`` lines,
for the first ``DIFFED_FILES`` of them.
"""

from __future__ import annotations

import difflib
import pathlib
import shutil

import pytest
from conftest import ROOT

Files = dict[str, str]
"""Relative POSIX path → text."""

DIFF_LINES = 80
"""The most lines of one file's diff that a failure shows."""
DIFFED_FILES = 6
"""The most files whose diff a failure shows; it names the others."""


def read_tree(folder: pathlib.Path) -> Files:
    """Every file under ``folder``, as text, by path relative to it."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes().decode("utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def expect_files(actual: Files, folder: pathlib.Path, update: bool, *, whole_folder: bool = True) -> None:
    """Fail unless ``folder`` holds ``actual``; with ``update``, write ``actual`` there first.

    With ``whole_folder`` the golden set is every file under ``folder`` (an update replaces the
    folder); without, only the files named in ``actual`` (the folder holds other files too).
    """
    if update:
        if whole_folder:
            shutil.rmtree(folder, ignore_errors=True)
        for name, text in actual.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(text.encode("utf-8"))
    if whole_folder:
        expected = read_tree(folder) if folder.is_dir() else {}
    else:
        expected = {n: (folder / n).read_bytes().decode("utf-8") for n in actual if (folder / n).is_file()}
    where = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    problems = mismatches(expected, actual, where.as_posix())
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def mismatches(expected: Files, actual: Files, where: str) -> list[str]:
    """What differs between the golden files in ``where`` and the actual ones; empty if nothing."""
    problems = [
        f"missing: {where}/{n} is in the golden set but was not produced"
        for n in sorted(expected.keys() - actual.keys())
    ]
    problems += [
        f"extra: {where}/{n} was produced but is not in the golden set"
        for n in sorted(actual.keys() - expected.keys())
    ]
    changed = sorted(n for n in expected.keys() & actual.keys() if expected[n] != actual[n])
    problems += [_diff(expected[n], actual[n], f"{where}/{n}") for n in changed[:DIFFED_FILES]]
    problems += [f"also differs: {where}/{n}" for n in changed[DIFFED_FILES:]]
    if problems:
        problems.insert(
            0, f"output differs from {where}; if intended, rerun with --update-goldens and review:"
        )
    return problems


def _diff(expected: str, actual: str, path: str) -> str:
    lines = list(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{path} (golden)",
            tofile=f"{path} (actual)",
        )
    )
    shown = "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
        for line in lines[:DIFF_LINES]
    )
    if len(lines) > DIFF_LINES:
        shown += f"... {len(lines) - DIFF_LINES} more lines of diff in {path}\n"
    return shown.rstrip("\n")
