"""User-facing errors.

Every problem with a user's input is raised as :class:`InputError`, which names the file and,
where it applies, the 1-based line and column, so command lines can print one clear sentence
instead of a traceback from deep inside numpy or pandas.
"""

from __future__ import annotations

import os


class BayesmixError(Exception):
    """Base class of errors that the command lines report without a traceback."""


class InputError(BayesmixError, ValueError):
    """A malformed or inconsistent input file or argument.

    Parameters
    ----------
    message : str
        What is wrong and, ideally, what to do about it.
    path : str or os.PathLike, optional
        The file the problem is in.
    line : int, optional
        1-based line number in ``path`` (counting a header line as line 1).
    column : str or int, optional
        Column name or 1-based column number.
    """

    def __init__(self, message: str, path=None, line: int | None = None, column=None):
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return (": ".join([", ".join(where), self.message]) if where else self.message)


class ConvergenceError(BayesmixError, RuntimeError):
    """An MCMC chain or optimiser diverged; the message says why and what to try."""
