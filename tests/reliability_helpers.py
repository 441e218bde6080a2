"""Shared pieces of the reliability tests: the real command line under time and memory bounds,
and what a command wrote on the host."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float

    def error_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]


def invoke(args: list[str], *, timeout: float = 60.0, memory_mb: int | None = None, cwd: Path = REPO) -> Run:
    """`invoke ARGS` as a user types it, in a child whose address space is capped at `memory_mb`
    (so a loader that blows up dies with MemoryError instead of taking the machine down)."""

    def limit() -> None:
        if memory_mb:
            cap = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=limit)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise AssertionError(f"`invoke {' '.join(args)}` still running after {timeout}s:\n{stderr[-2000:]}")
    seconds = time.monotonic() - started
    # ru_maxrss of the waited-for children (kilobytes on Linux): the largest any child reached so far.
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return Run(proc.returncode, stdout, stderr, seconds, rss)


def tree(root: Path) -> set[str]:
    """Every path under `root` (relative), to compare before and after a command."""
    if not root.exists():
        return set()
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def tasks_module():
    """The repository's tasks.py (the Invoke collection), imported as `invoke` imports it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fabriclab_tasks", REPO / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
