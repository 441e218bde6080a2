"""Both providers offer the whole provider contract (lab/contract.py), method by method."""

from __future__ import annotations

import inspect

import pytest

from lab.contract import CAPABILITIES
from lab.errors import LabError
from lab.providers.clab.provider import ClabProvider
from lab.providers.netns.provider import NetnsProvider


@pytest.mark.parametrize("provider", [NetnsProvider, ClabProvider])
@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
def test_every_capability_is_offered(provider, capability):
    for method in CAPABILITIES[capability]:
        assert callable(getattr(provider, method, None)), f"{provider.__name__} lacks {capability}.{method}"


def test_contract_methods_take_the_contract_arguments():
    """calicoctl's `files` and change_pods's options are the ones commands and replays pass."""
    for provider in (NetnsProvider, ClabProvider):
        assert "files" in inspect.signature(provider.calicoctl).parameters
        params = inspect.signature(provider.change_pods).parameters
        assert {"recreate_pods", "node", "all_pods", "add", "delete", "out"} <= set(params) or \
            any(p.kind is p.VAR_KEYWORD for p in params.values())


def test_a_fault_clab_cannot_do_is_one_clear_error(tmp_path):
    from lab.loader import load_topology

    # An external reflector's BIRD is its container's main process (tests/test_clab_faults.py has the rest).
    lab = ClabProvider(load_topology("calico-rr-external"), out_dir=tmp_path, dry_run=True, preflight=lambda: [])
    with pytest.raises(LabError, match="not available on the clab provider"):
        lab.apply_fault("stop", "rr1")
