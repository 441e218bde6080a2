"""Host requirements, each failing with one sentence that says how to fix it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import EnvironmentProblem

# Debian/Ubuntu package that ships each binary the netns provider runs.
PACKAGES = {
    "zebra": "frr", "bgpd": "frr", "staticd": "frr", "vtysh": "frr",
    "bird": "bird", "birdc": "bird",
    "tcpdump": "tcpdump", "ping": "iputils-ping", "ip": "iproute2",
}
# FRR installs its daemons outside PATH on Debian/Ubuntu.
SEARCH_DIRS = ("/usr/lib/frr", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in SEARCH_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        raise EnvironmentProblem(missing_message([name]))
    return path


def missing_message(names: list[str]) -> str:
    """One sentence: what is missing, where we looked, the apt-get line that fixes it."""
    packages = sorted({PACKAGES.get(n, n) for n in names})
    pronoun = "it" if len(names) == 1 else "them"
    return (f"{', '.join(names)} not found (looked in {', '.join(SEARCH_DIRS[:2])}, PATH): "
            f"install {pronoun} with `apt-get install -y {' '.join(packages)}`")


def require_binaries(names) -> None:
    """EnvironmentProblem naming every missing binary and the Debian/Ubuntu packages to install."""
    missing = [n for n in names if find_binary(n) is None]
    if missing:
        raise EnvironmentProblem(missing_message(missing))


def require_root() -> None:
    """EnvironmentProblem unless running as root (namespaces, veths and daemons need it)."""
    if os.geteuid() != 0:
        raise EnvironmentProblem("the netns provider creates network namespaces and must run as root: "
                                 "run it with sudo (e.g. `sudo .venv/bin/invoke lab.up`)")
