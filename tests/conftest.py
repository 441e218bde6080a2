"""Shared fixtures. (Add yours below; keep each fixture's cleanup in its own finalizer.)"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest


# -- netns primitives (tests/test_netns_primitives.py) ------------------------------------

@pytest.fixture
def prim_lab():
    """A unique `flprim-xxxxxx-` prefix, a run dir /tmp/flprim-xxxxxx (0755: FRR, as user frr,
    must reach its files; pytest's tmp_path is 0700) and a LabState in it that records that dir
    first. The finalizer tears down whatever the state recorded: namespaces, PIDs, dirs."""
    from lab.providers.netns import netlink
    from lab.providers.netns.state import LabState, teardown

    token = secrets.token_hex(3)
    prefix = f"flprim-{token}-"
    run_dir = Path(f"/tmp/flprim-{token}")
    state = LabState(run_dir / "state.json")
    state.record_dir(run_dir)
    run_dir.chmod(0o755)
    state.set_meta(lab=prefix, provider="netns-primitives-test", phase="building")
    yield prefix, run_dir, state
    netlink.close_all()
    if state.path.exists():
        teardown(LabState(state.path))
    assert not [n for n in netlink.list_netns(prefix)], "namespaces left behind"
    assert not run_dir.exists() and os.path.isdir("/tmp")
