"""Child processes that stop at a named point of their work, to be killed there (SIGKILL).

A child runs ``PAUSES`` first: ``pause(name)`` prints the name and blocks on
stdin when the point named by the first argument is reached. The parent waits
for that line, so every kill happens exactly at its point: no sleeps, no races.
"""

from __future__ import annotations

import signal
import subprocess
import sys

PAUSES = """
import sys

POINT = sys.argv[1]
del sys.argv[1]


def pause(name):
    if name == POINT:
        print(name, flush=True)
        sys.stdin.read()  # until killed


def around(owner, attribute, before, after):
    # wrap owner.attribute: pause at the named points before and after each call
    real = getattr(owner, attribute)

    def wrapped(*args, **kwargs):
        pause(before(*args))
        result = real(*args, **kwargs)
        pause(after(*args))
        return result

    setattr(owner, attribute, wrapped)
"""


class Child:
    def __init__(self, script: str, point: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PAUSES + script, point, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_for(self, point: str) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != point:
            _, err = self.proc.communicate(timeout=30)
            raise AssertionError(f"expected the child to stop at {point}; it printed {line!r}\n{err}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL

    def finish(self) -> tuple[int, str, str]:
        """Close the child's input (a paused child goes on) and wait for it to exit."""
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


def killed_at(script: str, point: str, *args: str) -> None:
    """Run ``script`` until ``point`` and kill it there."""
    child = Child(script, point, *args)
    child.wait_for(point)
    child.kill()


def completed(script: str, *args: str) -> tuple[int, str, str]:
    """Run ``script`` without stopping."""
    return Child(script, "", *args).finish()
