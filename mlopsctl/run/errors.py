"""The one error of a local run: something the user must fix before it can run (one message, exit 1)."""


class RunError(Exception):
    """A local run cannot start: an unknown name, missing sample data, a bad ``--param``, ..."""
