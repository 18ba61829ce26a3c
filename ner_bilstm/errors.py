"""The one exception type for mistakes a user can make (bad file, bad option, bad model dir)."""

from __future__ import annotations


class NerError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits 1."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class TrainingInterrupted(NerError):
    """Training stopped on request (SIGINT/SIGTERM) after writing a checkpoint; exit code 130."""
