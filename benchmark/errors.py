"""Errors a user can fix. The CLI prints each as one line and exits non-zero; nothing else is caught."""

from __future__ import annotations

from pathlib import Path


def first_line(error: BaseException, limit: int = 300) -> str:
    """The first line of ``error``'s message (its type name when the message is empty): what a one-line
    report of a library's exception shows."""
    text = str(error).strip()
    return text.splitlines()[0][:limit] if text else type(error).__name__


class BenchmarkError(Exception):
    """Base class: the message alone must tell the user what to fix."""


class ConfigError(BenchmarkError):
    """A bad command-line option, profile key or unknown registry name."""


class DataError(BenchmarkError):
    """Bad input data. Always names the file (and line, where there is one) and the problem."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None):
        self.path = Path(path)
        self.problem = problem
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")
