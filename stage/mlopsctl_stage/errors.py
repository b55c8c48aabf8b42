"""The one error a stage raises for anything wrong with its inputs, settings or environment."""


class StageError(Exception):
    """A failure to report as one line: what is wrong (``subject``, an input or config key) and why."""

    def __init__(self, subject: str, why: str) -> None:
        super().__init__(f"{subject}: {why}")
        self.subject = subject
        self.why = why
