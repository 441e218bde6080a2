"""Where fabriclab writes, read at call time so a test or a user can move it.

- the run root holds the state of running netns labs (one directory per lab: state file,
  daemon configs and sockets, datastore) and their locks: FABRICLAB_RUN_ROOT, else
  /run/fabriclab (tmpfs: a reboot, which also removes the namespaces, empties it);
- the output root holds each lab's generated artefacts (rendered configs, captures,
  reports, bundles): FABRICLAB_OUT_ROOT, else build/ in the checkout.

A function given a root explicitly uses that one; nothing else names these paths.
"""

from __future__ import annotations

import os
from pathlib import Path

RUN_ROOT_ENV = "FABRICLAB_RUN_ROOT"
OUT_ROOT_ENV = "FABRICLAB_OUT_ROOT"
DEFAULT_RUN_ROOT = "/run/fabriclab"
CHECKOUT = Path(__file__).resolve().parent.parent  # topologies/, calico/, scenarios/ and build/ live here


def run_root(given: Path | str | None = None) -> Path:
    """The run root: `given`, else $FABRICLAB_RUN_ROOT, else /run/fabriclab."""
    if given is not None:
        return Path(given)
    return Path(os.environ.get(RUN_ROOT_ENV) or DEFAULT_RUN_ROOT)


def out_root(given: Path | str | None = None) -> Path:
    """The output root: `given`, else $FABRICLAB_OUT_ROOT, else build/ in the checkout."""
    if given is not None:
        return Path(given)
    env = os.environ.get(OUT_ROOT_ENV)
    return Path(env) if env else CHECKOUT / "build"


def out_dir(lab_name: str) -> Path:
    """A lab's output directory (under the output root)."""
    return out_root() / lab_name
