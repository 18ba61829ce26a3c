"""The one exception type for mistakes a user can make (bad file, bad option, bad model dir)."""

from __future__ import annotations


class NerError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits 1."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None, option: str | None = None):
        self.message, self.path, self.line = message, path, line
        self.option = option  # the option (TrainConfig's name) whose value is refused, when one is
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class TrainingInterrupted(NerError):
    """Training stopped on request (SIGINT/SIGTERM) after writing a checkpoint; exit code 130."""


def first_line(error: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (its type's name when the message is empty), cut to ``limit``."""
    return (str(error).splitlines() or [type(error).__name__])[0][:limit]
