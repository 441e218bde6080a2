"""One BIRD control-socket command without starting `birdc` (what the lab polls at scale).

Why not `birdc -s SOCK CMD`: a process per question costs ~6 ms of fork/exec on a
2-core machine; `up` and the session check ask every speaker once per round, so a
1,000-node lab spent seconds per round in process start-up. The control socket
speaks a line protocol (BIRD 1.x doc/prog "Remote control"): the server greets with
`0001 BIRD x.y ready.`, answers a command with lines `CODE-text` (more to come),
` text` (continuation of the previous code) and a last `CODE text`; `0000` closes a
successful answer, codes >= 8000 are errors, a leading `+` is an asynchronous notice.

`format_reply` prints exactly what birdc prints for the same lines (birdc's
`server_got_reply`: code lines without the code, continuations without the space,
`0000` and other zero codes silent), so parsers written against birdc's output read
this too. Pure parts (`parse_lines`, `format_reply`) are separate from the socket.
"""

from __future__ import annotations

import socket
from pathlib import Path


class BirdCtlError(OSError):
    """The socket is missing, refuses, closes early or times out."""


def _code(line: str) -> tuple[int, bool] | None:
    """(code, last) of a `CODE-text` / `CODE text` line; None for other lines."""
    if len(line) >= 5 and line[:4].isdigit() and line[4] in " -":
        return int(line[:4]), line[4] == " "
    if len(line) == 4 and line.isdigit():  # "0000" with nothing after it
        return int(line), True
    return None


def format_reply(lines: list[str]) -> str:
    """birdc's rendering of the reply lines of one command (greeting included if given)."""
    out = []
    for line in lines:
        if line.startswith("+"):
            out.append(">>> " + line[1:])
        elif line.startswith(" "):
            out.append(line[1:])
        else:
            parsed = _code(line)
            if parsed is None:
                out.append(f"??? <{line}>")
            elif parsed[0]:
                out.append(line[5:])
    return "".join(text + "\n" for text in out)


def complete(lines: list[str]) -> bool:
    """Whether the last line received ends the answer (`CODE text` with a space)."""
    if not lines:
        return False
    parsed = _code(lines[-1])
    return parsed is not None and parsed[1]


def command(path: str | Path, cmd: str, timeout: float = 10.0) -> str:
    """Send `cmd` over BIRD's control socket `path`; its answer as birdc would print it."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            reader = sock.makefile("r", encoding="utf-8", errors="replace", newline="\n")
            greeting = _read_answer(reader, path)
            sock.sendall(cmd.encode() + b"\n")
            return format_reply(greeting + _read_answer(reader, path))
    except BirdCtlError:
        raise
    except OSError as exc:  # missing socket, refused, timed out
        raise BirdCtlError(f"BIRD control socket {path}: {exc.strerror or exc}") from None


def _read_answer(reader, path) -> list[str]:
    lines: list[str] = []
    while not complete(lines):
        line = reader.readline()
        if not line:
            raise BirdCtlError(f"BIRD control socket {path} closed before the end of the answer")
        lines.append(line.rstrip("\n"))
    return lines
