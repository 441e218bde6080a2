"""Exceptions that carry a message meant for the user, not a traceback.

Every error the tool expects (bad input, missing tools, a daemon that refuses
its config) is a `LabError`; the CLI entry points print `str(err)` on one line
and exit non-zero. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class LabError(Exception):
    """An expected failure with a message a user can act on."""


PROBLEM_MAX = 400  # characters of one error's problem text


class InputError(LabError):
    """Bad input: names the file, the line (when known), the field and the problem."""

    def __init__(self, file: str, field: str, problem: str, line: int | None = None):
        self.file = file
        self.field = field
        # A message quotes the offending value: a 15 MB scalar must not become a 15 MB error line.
        if len(problem) > PROBLEM_MAX:
            problem = f"{problem[:PROBLEM_MAX - 120]} ... [{len(problem)} characters] ... {problem[-100:]}"
        self.problem = problem
        self.line = line
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")


class TopologyError(InputError):
    """A topology file is invalid."""


class ResourceError(InputError):
    """A Calico resource file is invalid."""


class SelectorError(LabError):
    """A Calico selector has a syntax error; `column` is 1-based."""

    def __init__(self, selector: str, column: int, problem: str):
        self.selector = selector
        self.column = column
        self.problem = problem
        pointer = " " * (column - 1) + "^"
        super().__init__(f"bad selector at column {column}: {problem}\n  {selector}\n  {pointer}")


class EnvironmentProblem(LabError):
    """The host lacks something (root, a binary, a kernel feature); the message says how to fix it."""


class DaemonError(LabError):
    """A routing daemon refused its configuration or did not become ready."""
