"""The command-runner seam: every external command of the clab provider is an argv list run here.

`SubprocessRunner` runs it, `DryRunRunner` prints it (one line, shell-quoted so
it can be copied and pasted) and pretends it succeeded, `RecordingRunner`
records it for tests, answers from a script and can be told to fail. Never a
shell string: argv lists only, `shell=True` nowhere.

Side effects that are not commands (pyroute2, the docker SDK, SSH, files
written) are reported with `note()`, so a dry run prints the complete plan.
"""

from __future__ import annotations

import shlex
import sys
from typing import Callable, Mapping, Protocol, Sequence, TextIO

from .errors import LabError
from .exec import Result, run_argv

DEFAULT_TIMEOUT = 600.0


class Runner(Protocol):
    dry_run: bool

    def run(self, argv: Sequence[str], *, input: str | None = None, timeout: float = DEFAULT_TIMEOUT,
            check: bool = True, env: Mapping[str, str] | None = None) -> Result:
        """Run argv; with check, a non-zero exit raises LabError naming the command and its error."""

    def note(self, text: str) -> None:
        """An action that is not a command (pyroute2, docker SDK, SSH, file write), for the printed plan."""


def command_line(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """argv (and extra environment) as one copy-and-paste shell line."""
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    return (prefix + " " if prefix else "") + shlex.join(str(a) for a in argv)


def checked(result: Result, check: bool, env: Mapping[str, str] | None = None) -> Result:
    if check and result.rc != 0:
        detail = (result.stderr or result.stdout).strip()[-400:] or "no output"
        raise LabError(f"`{command_line(result.argv, env)}` failed (rc {result.rc}): {detail}")
    return result


class SubprocessRunner:
    """Runs commands for real; `verbose` echoes each one (and each note) to `out`."""

    dry_run = False

    def __init__(self, out: TextIO | None = None, verbose: bool = False):
        self.out, self.verbose = out or sys.stdout, verbose

    def run(self, argv, *, input=None, timeout=DEFAULT_TIMEOUT, check=True, env=None) -> Result:
        if self.verbose:
            self.out.write(f"  $ {command_line(argv, env)}\n")
        return checked(run_argv(argv, timeout=timeout, input=input, env=env), check, env)

    def note(self, text: str) -> None:
        if self.verbose:
            self.out.write(f"  # {text}\n")


class DryRunRunner:
    """Prints each command on one line and answers success with empty output; changes nothing."""

    dry_run = True

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout

    def run(self, argv, *, input=None, timeout=DEFAULT_TIMEOUT, check=True, env=None) -> Result:
        line = command_line(argv, env)
        if input is not None:
            line += f"  # stdin: {len(input)} characters"
        self.out.write(line + "\n")
        return Result(tuple(str(a) for a in argv), 0, "", "")

    def note(self, text: str) -> None:
        self.out.write(f"# {text}\n")


Answer = Result | Callable[[tuple], Result]


class RecordingRunner:
    """For tests: records every argv (and notes); answers from a script; fails on demand.

    `answers` maps an argv prefix to a Result (or a callable taking argv); the
    longest matching prefix wins, anything else gets an empty success.
    `fail_at` makes the N-th command (1-based) fail; `fail_when` fails every
    command it returns True for. A failure is rc 1 with stderr "injected failure".
    """

    dry_run = False

    def __init__(self, answers: Mapping[tuple, Answer] | None = None, *, fail_at: int | None = None,
                 fail_when: Callable[[tuple], bool] | None = None):
        self.commands: list[tuple] = []
        self.envs: list[dict | None] = []
        self.inputs: list[str | None] = []
        self.notes: list[str] = []
        self.answers: dict[tuple, Answer] = dict(answers or {})
        self.fail_at = fail_at
        self.fail_when = fail_when

    def run(self, argv, *, input=None, timeout=DEFAULT_TIMEOUT, check=True, env=None) -> Result:
        argv = tuple(str(a) for a in argv)
        self.commands.append(argv)
        self.envs.append(dict(env) if env else None)
        self.inputs.append(input)
        if (self.fail_at is not None and len(self.commands) == self.fail_at) or \
                (self.fail_when is not None and self.fail_when(argv)):
            return checked(Result(argv, 1, "", "injected failure"), check, env)
        for prefix in sorted(self.answers, key=len, reverse=True):
            if argv[:len(prefix)] == tuple(prefix):
                answer = self.answers[prefix]
                result = answer(argv) if callable(answer) else answer
                return checked(Result(argv, result.rc, result.stdout, result.stderr), check, env)
        return Result(argv, 0, "", "")

    def note(self, text: str) -> None:
        self.notes.append(text)

    def lines(self) -> list[str]:
        """The recorded commands as the dry run prints them (environment first)."""
        return [command_line(c, e) for c, e in zip(self.commands, self.envs)]
