"""The clab provider on a running lab (calicoctl/kubectl passed through, pods) and its names under `--name`.

Contract tests with the recording runner: the real calicoctl and kubectl are not on our machines.
"""

from __future__ import annotations

import io
import json
import shlex
from ipaddress import IPv4Address

import pytest
import yaml

from lab.doctor import CLAB, OK, Item
from lab.errors import LabError
from lab.exec import Result
from lab.fabric import router_bgp
from lab.loader import load_topology
from lab.providers.clab.fakes import frr_bgp_summary, vyos_show_interfaces
from lab.providers.clab.names import lab_topology, scoped_bridge
from lab.providers.clab.ops import calicoctl_args
from lab.providers.clab.provider import ClabProvider
from lab.providers.clab.readiness import (ebgp_neighbors, interface_table, interfaces_missing, sessions_missing,
                                          summary_states)
from lab.runner import RecordingRunner

TOPO = load_topology("calico-bgp-rr")


def provider(tmp_path, answers=None, name=None, topo=TOPO, **options):
    runner = RecordingRunner(answers or {})
    return ClabProvider(topo, name, out_dir=tmp_path, runner=runner, preflight=lambda: [Item(CLAB, OK, "x", "y")],
                        deadline=5.0, **options), runner


# -- calicoctl and kubectl, the real ones ------------------------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    (["get", "bgppeer", "-o", "wide"], ["get", "bgppeer", "-o", "wide", "--allow-version-mismatch"]),
    (["apply", "-f", "-"], ["apply", "-f", "-", "--allow-version-mismatch"]),
    (["node", "status", "--", "x"], ["node", "status", "--allow-version-mismatch", "--", "x"]),
    (["get", "nodes", "--allow-version-mismatch"], ["get", "nodes", "--allow-version-mismatch"]),
    (["version"], ["version"]),
    ([], []),
])
def test_calicoctl_gets_the_mismatch_flag_after_the_subcommand_once(argv, expected):
    assert calicoctl_args(argv) == expected


def test_calicoctl_runs_the_real_tool_on_the_labs_kubeconfig_and_returns_its_code(tmp_path):
    table = "NAME            PEERIP     NODE                ASN\nrack0-to-leaf0  10.1.5.1   rack == 'rack0'   65005\n"
    lab, runner = provider(tmp_path, {("calicoctl", "get"): Result((), 0, table, ""),
                                      ("calicoctl", "delete"): Result((), 1, "", "resource does not exist")})
    out = io.StringIO()
    assert lab.calicoctl(["get", "bgppeer", "-o", "wide"], out) == 0
    assert runner.commands[0] == ("calicoctl", "get", "bgppeer", "-o", "wide", "--allow-version-mismatch")
    assert runner.envs[0] == {"DATASTORE_TYPE": "kubernetes", "KUBECONFIG": str(tmp_path / "kubeconfig")}
    assert out.getvalue() == table
    out = io.StringIO()
    assert lab.calicoctl(["delete", "bgppeer", "nope"], out) == 1  # calicoctl's own exit code and message
    assert "resource does not exist" in out.getvalue()
    lab.calicoctl(["apply", "-f", "-"], io.StringIO(), stdin="kind: BGPPeer\n")
    assert runner.inputs[-1] == "kind: BGPPeer\n"


def test_kubectl_runs_on_the_labs_kubeconfig_and_context(tmp_path):
    lab, runner = provider(tmp_path, {("kubectl",): Result((), 3, "some output", "")})
    out = io.StringIO()
    assert lab.kubectl(["get", "nodes", "-o", "wide"], out) == 3
    assert runner.commands[0] == ("kubectl", "--kubeconfig", str(tmp_path / "kubeconfig"), "--context",
                                  "kind-calico-bgp-rr", "get", "nodes", "-o", "wide")
    assert out.getvalue() == "some output\n"


def test_a_dry_run_prints_the_commands_and_runs_nothing(tmp_path):
    out = io.StringIO()
    lab = ClabProvider(TOPO, out_dir=tmp_path, dry_run=True, out=out)
    assert lab.calicoctl(["patch", "node", "calico-bgp-rr-worker", "-p", '{"spec": {}}'], out) == 0
    assert lab.recreate_pods("worker2") == []
    lines = out.getvalue().replace(str(tmp_path), "<out>").splitlines()
    assert lines == [
        "DATASTORE_TYPE=kubernetes KUBECONFIG=<out>/kubeconfig calicoctl patch node calico-bgp-rr-worker "
        "-p '{\"spec\": {}}' --allow-version-mismatch",
        "kubectl --kubeconfig <out>/kubeconfig --context kind-calico-bgp-rr -n default delete pod -l app=fabriclab-demo "
        "--field-selector spec.nodeName=calico-bgp-rr-worker2 --wait=true",
        "kubectl --kubeconfig <out>/kubeconfig --context kind-calico-bgp-rr -n default rollout status "
        "daemonset/fabriclab-demo --timeout 600s",
    ]


# -- pods ----------------------------------------------------------------------------------------------

PODS = {"items": [
    {"metadata": {"name": "fabriclab-demo-b"}, "spec": {"nodeName": "calico-bgp-rr-worker2"},
     "status": {"podIP": "10.244.130.65", "phase": "Running"}},
    {"metadata": {"name": "fabriclab-demo-a"}, "spec": {"nodeName": "calico-bgp-rr-control-plane"},
     "status": {"podIP": "10.244.7.1", "phase": "Running"}},
    {"metadata": {"name": "fabriclab-demo-c"}, "spec": {"nodeName": "calico-bgp-rr-worker"},
     "status": {"phase": "Pending"}},
]}


def test_pods_list_names_node_ip_block_and_pool(tmp_path):
    lab, runner = provider(tmp_path, {("kubectl",): Result((), 0, json.dumps(PODS), "")})
    rows = lab.pods_list()
    assert runner.commands[0][5:] == ("-n", "default", "get", "pods", "-l", "app=fabriclab-demo", "-o", "json")
    assert [(r.name, r.node, r.ip, r.block, r.pool, r.phase) for r in rows] == [
        ("fabriclab-demo-a", "control-plane", "10.244.7.1", "10.244.7.0/26", "default-ipv4-ippool", "Running"),
        ("fabriclab-demo-c", "worker", "", "", "", "Pending"),
        ("fabriclab-demo-b", "worker2", "10.244.130.65", "10.244.130.64/26", "default-ipv4-ippool", "Running"),
    ]
    assert [(p.name, p.node, p.ip) for p in lab.pods()][0] == ("fabriclab-demo-a", "control-plane", "10.244.7.1")


def test_pods_list_says_when_kubectl_prints_no_json(tmp_path):
    lab, _ = provider(tmp_path, {("kubectl",): Result((), 0, "error: the server doesn't have a resource", "")})
    with pytest.raises(LabError, match="printed no JSON"):
        lab.pods_list()


def test_recreate_every_pod_is_a_rollout_restart_then_status(tmp_path):
    lab, runner = provider(tmp_path, {("kubectl",): Result((), 0, json.dumps(PODS), "")})
    rows = lab.recreate_pods()
    tails = [c[5:] for c in runner.commands]
    assert tails[:2] == [("-n", "default", "rollout", "restart", "daemonset/fabriclab-demo"),
                         ("-n", "default", "rollout", "status", "daemonset/fabriclab-demo", "--timeout", "5s")]
    assert tails[2][2:4] == ("get", "pods") and len(rows) == 3


def test_recreate_one_nodes_pod_deletes_it_and_an_unknown_node_is_refused(tmp_path):
    lab, runner = provider(tmp_path, {("kubectl",): Result((), 0, json.dumps(PODS), "")})
    lab.recreate_pods("worker2")
    assert runner.commands[0][5:] == ("-n", "default", "delete", "pod", "-l", "app=fabriclab-demo",
                                      "--field-selector", "spec.nodeName=calico-bgp-rr-worker2", "--wait=true")
    with pytest.raises(LabError, match="unknown node 'worker9'"):
        lab.recreate_pods("worker9")


# -- two labs of one topology: --name -----------------------------------------------------------------

def _names(tmp_path, name):
    out = io.StringIO()
    ClabProvider(TOPO, name, out_dir=tmp_path / (name or "own"), dry_run=True, out=out,
                 preflight=lambda: []).up(out)
    clab = yaml.safe_load((tmp_path / (name or "own") / "clab.yaml").read_text())
    kind = yaml.safe_load((tmp_path / (name or "own") / "kind.yaml").read_text())
    resources = list(yaml.safe_load_all((tmp_path / (name or "own") / "calico" / "resources.yaml").read_text()))
    bridges = {n for n, spec in clab["topology"]["nodes"].items() if spec["kind"] == "bridge"}
    ports = {e for link in clab["topology"]["links"] for e in link["endpoints"] if e.split(":")[0] in bridges}
    containers = {f"clab-{clab['name']}-{n}" for n, spec in clab["topology"]["nodes"].items() if spec["kind"] != "bridge"}
    nodes = {d["metadata"]["name"] for d in resources if d and d["kind"] == "Node"}
    return {"lab": {clab["name"]}, "cluster": {kind["name"]}, "bridges": bridges,
            "ports": {p.split(":", 1)[1] for p in ports}, "containers": containers, "nodes": nodes}, out.getvalue()


def test_two_labs_of_one_topology_share_no_name(tmp_path):
    own, _ = _names(tmp_path, None)
    assert own["lab"] == own["cluster"] == {"calico-bgp-rr"} and own["bridges"] == {"br-leaf0", "br-leaf1"}
    a, plan_a = _names(tmp_path, "clab-a1b2")
    b, _ = _names(tmp_path, "clab-c3d4")
    for key in own:
        assert own[key] and a[key] and b[key]
        assert not (own[key] & a[key]) and not (a[key] & b[key]) and not (own[key] & b[key]), key
    assert a["cluster"] == {"clab-a1b2"} and "clab-a1b2-worker2" in a["nodes"]
    assert all(len(x) <= 15 for x in a["bridges"] | a["ports"])
    # Every command of the plan names the lab's own cluster, kubeconfig context and clab file.
    assert "kind create cluster --name clab-a1b2 " in plan_a and "--context kind-clab-a1b2" in plan_a
    assert "calico-bgp-rr" not in plan_a.replace(str(tmp_path), "")


def test_the_renamed_lab_is_down_by_its_name_and_bad_names_are_refused(tmp_path):
    lab = ClabProvider(TOPO, "clab-x1", out_dir=tmp_path, dry_run=True, out=io.StringIO())
    assert lab.lab_name == lab.topo.name == lab.cluster == "clab-x1"
    assert lab.access().routers["leaf0"] == "clab-clab-x1-leaf0"
    with pytest.raises(LabError, match="--name Bad_Name"):
        lab_topology(TOPO, "Bad_Name")
    assert scoped_bridge("x", "br-a-very-long1") != scoped_bridge("x", "br-a-very-long2")
    assert len(scoped_bridge("x", "br-a-very-long1")) <= 15


# -- readiness, read from VyOS's own output ---------------------------------------------------------

def test_show_interfaces_parsing_and_what_is_missing():
    leaf0 = TOPO.router("leaf0")
    text = vyos_show_interfaces(leaf0)
    table = interface_table(text)
    assert table["eth3"] == ({"10.1.5.1/24"}, "u/u") and table["lo"][0] == {"127.0.0.1/8", "::1/128"}
    assert interfaces_missing(text, leaf0) == []
    assert interfaces_missing(vyos_show_interfaces(leaf0, missing=("eth2",)), leaf0) == ["eth2 10.1.12.1/24"]
    assert interfaces_missing(vyos_show_interfaces(leaf0, up=False), leaf0) == [
        "eth1 down (u/D)", "eth2 down (u/D)", "eth3 down (u/D)"]
    assert interfaces_missing("", leaf0) == ["eth1 10.1.10.1/24", "eth2 10.1.12.1/24", "eth3 10.1.5.1/24"]


def test_bgp_summary_parsing_only_ebgp_must_be_established_before_calico():
    leaf0 = TOPO.router("leaf0")
    bgp = router_bgp(TOPO, leaf0)
    text = frr_bgp_summary(str(bgp.router_id), leaf0.asn, bgp.neighbors)
    states = summary_states(text)
    assert states[IPv4Address("10.1.10.2")] == "Established" and states[IPv4Address("10.1.5.10")] == "Active"
    assert ebgp_neighbors(TOPO, leaf0) == [IPv4Address("10.1.10.2"), IPv4Address("10.1.12.2")]
    assert sessions_missing(text, ebgp_neighbors(TOPO, leaf0)) == []
    down = frr_bgp_summary(str(bgp.router_id), leaf0.asn, bgp.neighbors, established=False)
    assert sessions_missing(down, ebgp_neighbors(TOPO, leaf0)) == ["10.1.10.2 Active", "10.1.12.2 Active"]
    assert sessions_missing("% BGP instance not found\n", ebgp_neighbors(TOPO, leaf0)) == [
        "10.1.10.2 absent", "10.1.12.2 absent"]
    policy = text.replace("           3        6 spine0:eth1", "    (Policy) (Policy) spine0:eth1")
    assert summary_states(policy)[IPv4Address("10.1.10.2")] == "Established"


def test_plan_lines_of_the_live_commands_parse_back(tmp_path):
    out = io.StringIO()
    lab = ClabProvider(TOPO, out_dir=tmp_path, dry_run=True, out=out)
    lab.calicoctl(["label", "nodes", "calico-bgp-rr-worker", "route-reflector=true"], out)
    (line,) = out.getvalue().splitlines()
    words = shlex.split(line)
    assert words[2:] == ["calicoctl", "label", "nodes", "calico-bgp-rr-worker", "route-reflector=true",
                         "--allow-version-mismatch"]
