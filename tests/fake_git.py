"""A ``git`` first on PATH that runs the real git, and fails, stops or races another commit on cue
(pytest fixture ``fake_git``).

mlopsctl's own code runs unchanged: it starts ``git`` processes as always and meets a real failure
(exit 128 with git's ``fatal:`` line), a real Ctrl-C (SIGINT to the process that ran git) or a
real commit made by another git process. The cue is the subcommand (git's first argument, as
mlopsctl passes it), given through environment variables that the fixture sets.
"""

from __future__ import annotations

import os
import pathlib
import shlex
import shutil
from typing import Literal

import pytest

_SCRIPT = """\
#!/bin/sh
# Stand-in for git (see tests/fake_git.py): runs {real}, acting on the cue FAKE_GIT_* names.
if [ "$1" = "$FAKE_GIT_FAIL" ]; then
    echo "fatal: simulated failure" >&2
    exit 128
fi
cue() {{
    if [ "$1" = "$FAKE_GIT_RUN_ON" ] && [ "$2" = "$FAKE_GIT_RUN_WHEN" ]; then
        env -u FAKE_GIT_FAIL -u FAKE_GIT_RUN_ON -u FAKE_GIT_INTERRUPT_AFTER -u GIT_INDEX_FILE \\
            /bin/sh -c "$FAKE_GIT_RUN" || exit 1
    fi
}}
cue "$1" before
{real} "$@" || exit $?
cue "$1" after
if [ "$1" = "$FAKE_GIT_INTERRUPT_AFTER" ]; then
    kill -INT "$PPID"
fi
"""
_CUES = ("FAKE_GIT_FAIL", "FAKE_GIT_RUN_ON", "FAKE_GIT_RUN_WHEN", "FAKE_GIT_RUN", "FAKE_GIT_INTERRUPT_AFTER")


class FakeGit:
    """The cues of the ``git`` on PATH; each holds until :meth:`forward` (or the test's end)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch

    def fail(self, subcommand: str) -> None:
        """``git SUBCOMMAND`` fails as git does (``fatal:`` on stderr, exit 128) without running."""
        self._monkeypatch.setenv("FAKE_GIT_FAIL", subcommand)

    def interrupt_after(self, subcommand: str) -> None:
        """``git SUBCOMMAND`` runs, then sends SIGINT to the process that started it (as Ctrl-C would)."""
        self._monkeypatch.setenv("FAKE_GIT_INTERRUPT_AFTER", subcommand)

    def run(self, when: Literal["before", "after"], subcommand: str, command: str) -> None:
        """Run the shell ``command`` ``when`` (before or after) each ``git SUBCOMMAND`` runs: another
        process acting on the repository at that moment. Its own git commands get no cue."""
        self._monkeypatch.setenv("FAKE_GIT_RUN_ON", subcommand)
        self._monkeypatch.setenv("FAKE_GIT_RUN_WHEN", when)
        self._monkeypatch.setenv("FAKE_GIT_RUN", command)

    def forward(self) -> None:
        """From now on ``git`` is the real git, with no cue."""
        for name in _CUES:
            self._monkeypatch.delenv(name, raising=False)


def concurrent_commit(repo: pathlib.Path, message: str) -> str:
    """A shell command that commits a change to README.md in ``repo``, as someone else would."""
    where = shlex.quote(str(repo))
    return (
        f"echo 'someone else' > {where}/README.md && git -C {where} add -A && "
        f"git -C {where} -c user.name=t -c user.email=t@example.com commit -qm {shlex.quote(message)}"
    )


@pytest.fixture
def fake_git(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> FakeGit:
    """The fake ``git`` first on PATH for the test, forwarding everything until given a cue."""
    real = shutil.which("git")
    assert real is not None, "the tests of Git failures need git"
    folder = tmp_path / "fake-git"
    folder.mkdir()
    script = folder / "git"
    script.write_text(_SCRIPT.format(real=shlex.quote(real)), encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(folder), os.environ.get("PATH", "")]))
    fake = FakeGit(monkeypatch)
    fake.forward()
    return fake
