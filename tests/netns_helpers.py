"""Shared pieces of the real-lab tests: skip conditions, host snapshots, leftover checks."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest
import secrets

from lab.preflight import find_binary

NEEDED = ("zebra", "bgpd", "vtysh", "bird", "birdc", "tcpdump", "ping", "ip")


def netns_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "real-lab tests need root (network namespaces)"
    missing = [b for b in NEEDED if find_binary(b) is None]
    if missing:
        return f"missing {', '.join(missing)}: run `bash .ci/setup` (apt-get install -y frr bird tcpdump iputils-ping iproute2)"
    return None


# One token per test process: two test runs on one machine never share a lab name, so a
# fixture that removes "its" lab can never remove another run's.
RUN_TOKEN = secrets.token_hex(2)


def unique(base: str) -> str:
    """A lab name unique to this test run: `<base>-<token>` (within the 24-character limit)."""
    return f"{base[:19]}-{RUN_TOKEN}"


requires_netns = pytest.mark.skipif(netns_skip_reason() is not None, reason=netns_skip_reason() or "")


def host_snapshot() -> dict:
    """The host's own addresses, routes and links (names, flags, addresses), to compare before/after."""
    snap = {}
    for what in ("addr", "route", "link"):
        out = subprocess.run(["ip", "-j", what], capture_output=True, text=True, check=True).stdout
        items = json.loads(out)
        for item in items:
            for volatile in ("stats64", "stats", "operstate"):
                item.pop(volatile, None)
            for info in item.get("addr_info", []):
                info.pop("valid_life_time", None)
                info.pop("preferred_life_time", None)
        snap[what] = items
    return snap


def lab_leftovers(prefix: str, run_dir: Path) -> list[str]:
    left = []
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
    # The run dir names the lab: its namespaces under the current scheme count too (callers
    # written for the old `fl-<lab>-` prefix would otherwise check a prefix no lab uses now).
    from lab.providers.netns.blueprint import lab_prefix

    prefixes = (prefix, lab_prefix(run_dir.name))
    left += [f"netns {n.split()[0]}" for n in namespaces if n.startswith(prefixes)]
    if run_dir.exists():
        left.append(f"dir {run_dir}")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # With the trailing '/': lab x's run dir is a string prefix of lab x-br's.
        if f"{run_dir}/" in cmdline:
            left.append(f"process {pid}: {cmdline[:120]}")
    return left


def quiet() -> io.StringIO:
    return io.StringIO()
