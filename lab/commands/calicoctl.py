"""`invoke lab.calicoctl -- ARGS` and `invoke lab.pods`: change a running lab.

Thin: the netns lab changes through its datastore (lab.providers.netns.live), the clab
lab through the real calicoctl/kubectl (the clab provider's own methods).
"""

from __future__ import annotations

import sys
from typing import Sequence, TextIO

from ..errors import LabError


def _open(name: str | None, topology: str | None, provider: str, dry_run: bool = False, out: TextIO = sys.stdout):
    from .lab import open_provider

    lab = open_provider(provider, topology, name, dry_run=dry_run, out=out)
    if not lab.is_up() and not dry_run:
        hint = f" --name {lab.lab_name}" if name else ""
        raise LabError(f"lab {lab.lab_name} is not up: start it with `invoke lab.up{hint}`")
    return lab


def calicoctl(argv: Sequence[str], name: str | None = None, topology: str | None = None, provider: str = "netns",
              out: TextIO = sys.stdout, stdin: TextIO = sys.stdin, dry_run: bool = False) -> int:
    """calicoctl against a running lab: the same verbs and output on both providers."""
    return _open(name, topology, provider, dry_run, out).calicoctl(list(argv), out, stdin)


def pods(name: str | None = None, topology: str | None = None, *, provider: str = "netns",
         recreate_pods: bool = False, node: str | None = None, all_pods: bool = False, add: str | None = None,
         delete: str | None = None, out: TextIO = sys.stdout, dry_run: bool = False) -> int:
    lab = _open(name, topology, provider, dry_run, out)
    return lab.change_pods(recreate_pods=recreate_pods, node=node, all_pods=all_pods, add=add, delete=delete,
                           out=out)
