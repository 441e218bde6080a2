"""The command-runner seam: every external command of the clab provider is an argv list run here.

`SubprocessRunner` runs it, `DryRunRunner` prints it (one line, shell-quoted for
copy and paste) and pretends it succeeded, `RecordingRunner` records it for
tests and answers from a script. Never a shell string.
"""

from __future__ import annotations

import shlex
import sys
from typing import Callable, Mapping, Protocol, Sequence, TextIO

from .errors import LabError
from .exec import Result, run_argv


class Runner(Protocol):
    dry_run: bool

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 600,
            check: bool = True) -> Result: ...

    def note(self, text: str) -> None:
        """An action that is not a command (pyroute2, docker SDK, SSH, file write), for the printed plan."""


def _line(argv: Sequence[str], env: Mapping[str, str] | None) -> str:
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    return (prefix + " " if prefix else "") + shlex.join(argv)


def _checked(result: Result, check: bool, env) -> Result:
    if check and result.rc != 0:
        raise LabError(f"`{_line(result.argv, env)}` failed (rc {result.rc}): "
                       f"{(result.stderr or result.stdout).strip()[-400:]}")
    return result


class SubprocessRunner:
    dry_run = False

    def __init__(self, out: TextIO = sys.stdout, verbose: bool = False):
        self.out, self.verbose = out, verbose

    def run(self, argv, *, env=None, timeout=600, check=True) -> Result:
        if self.verbose:
            self.out.write(f"  $ {_line(argv, env)}\n")
        return _checked(run_argv(argv, timeout=timeout, env=env), check, env)

    def note(self, text: str) -> None:
        if self.verbose:
            self.out.write(f"  # {text}\n")


class DryRunRunner:
    dry_run = True

    def __init__(self, out: TextIO = sys.stdout):
        self.out = out

    def run(self, argv, *, env=None, timeout=600, check=True) -> Result:
        self.out.write(_line(argv, env) + "\n")
        return Result(tuple(argv), 0, "", "")

    def note(self, text: str) -> None:
        self.out.write(f"# {text}\n")


class RecordingRunner:
    """For tests: records commands; `answers` maps an argv prefix to the Result (or a callable) to give."""

    dry_run = False

    def __init__(self, answers: Mapping[tuple, object] | None = None,
                 fail_when: Callable[[tuple], bool] | None = None):
        self.commands: list[tuple] = []
        self.notes: list[str] = []
        self.answers = dict(answers or {})
        self.fail_when = fail_when

    def run(self, argv, *, env=None, timeout=600, check=True) -> Result:
        argv = tuple(argv)
        self.commands.append(argv)
        if self.fail_when and self.fail_when(argv):
            return _checked(Result(argv, 1, "", "injected failure"), check, env)
        for prefix in sorted(self.answers, key=len, reverse=True):
            if argv[:len(prefix)] == prefix:
                answer = self.answers[prefix]
                result = answer(argv) if callable(answer) else answer
                return _checked(Result(argv, result.rc, result.stdout, result.stderr), check, env)
        return Result(argv, 0, "", "")

    def note(self, text: str) -> None:
        self.notes.append(text)
