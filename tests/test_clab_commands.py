"""The plain functions the Invoke tasks call for the clab provider (dry runs: no side effect but files)."""

from __future__ import annotations

import io

from lab import versions
from lab.commands.clab import clab_down, clab_up
from lab.doctor import CLAB, OK, Item


def all_ok():
    return [Item(CLAB, OK, "kind", "found")]


def test_clab_up_dry_run_prints_the_plan_and_writes_the_files(tmp_path):
    out = io.StringIO()
    assert clab_up("calico-bgp-rr", None, True, out, tmp_path, preflight=all_ok) == 0
    plan = out.getvalue()
    assert plan.startswith("# dry run of `lab.up --provider clab` for lab calico-bgp-rr")
    assert (f"kind create cluster --name calico-bgp-rr --image {versions.KIND_NODE_IMAGE} --config {tmp_path}/kind.yaml "
            f"--kubeconfig {tmp_path}/kubeconfig") in plan
    assert (tmp_path / "clab.yaml").is_file() and (tmp_path / "workload.yaml").is_file()
    assert not (tmp_path / "clab-state.json").exists()


def test_clab_up_dry_run_reports_what_this_host_lacks_without_stopping(tmp_path):
    """Real (read-only) pre-flight probes: the plan says what a real run would stop on, if anything."""
    out = io.StringIO()
    assert clab_up(None, "probe", True, out, tmp_path) == 0
    plan = out.getvalue()
    assert "# pre-flight: root, kernel: network namespaces" in plan
    for line in plan.splitlines():
        if line.startswith("# pre-flight: MISSING"):
            assert line.endswith("(a real run stops here)")


def test_clab_down_dry_run_prints_every_removal(tmp_path):
    out = io.StringIO()
    assert clab_down("calico-bgp-rr", None, True, out, tmp_path) == 0
    lines = out.getvalue().replace(str(tmp_path), "<out>").splitlines()
    assert lines == [
        "# dry run of `lab.down --provider clab` for lab calico-bgp-rr: nothing is executed",
        "containerlab inspect -t <out>/clab.yaml --format json",
        "containerlab destroy -t <out>/clab.yaml --cleanup",
        "kind get clusters",
        "kind delete cluster --name calico-bgp-rr --kubeconfig <out>/kubeconfig",
        "# pyroute2: ip link del br-leaf1 (only if this lab created it)",
        "# pyroute2: ip link del br-leaf0 (only if this lab created it)",
    ]


def test_the_generic_lab_commands_open_the_clab_provider(tmp_path, monkeypatch):
    from lab.commands import lab as commands
    from lab.providers.clab.provider import ClabProvider

    lab = commands.open_provider("clab", "calico-bgp-rr", None, dry_run=True, out=io.StringIO())
    assert isinstance(lab, ClabProvider) and lab.dry_run and not lab.is_up()
