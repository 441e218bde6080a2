"""Renderers: golden files for every file of every topology, and contracts with the real tools.

Regenerate the golden files after an intended change with:
    FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from lab.commands.render import render
from lab.loader import TOPOLOGY_DIR, load_topology
from lab.render import render_all
from lab.render.kind import kind_config
from lab.render.vyos import render_vyos

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "render"
SCHEMA = REPO.parent / "shared" / "contracts" / "clab.schema.json"
TOPOLOGIES = sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yaml"))
UPDATE = os.environ.get("FABRICLAB_UPDATE_GOLDEN") == "1"


def _compare(path: Path, text: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}: run with FABRICLAB_UPDATE_GOLDEN=1"
    expected = path.read_text()
    if expected != text:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "rendered"))
        pytest.fail(f"rendered output differs from {path} (FABRICLAB_UPDATE_GOLDEN=1 to accept):\n{diff}")


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_golden(topology):
    files = render_all(load_topology(topology))
    golden_dir = GOLDEN / topology
    for rel, text in files.items():
        _compare(golden_dir / rel, text)
    on_disk = {str(p.relative_to(golden_dir)) for p in golden_dir.rglob("*") if p.is_file()}
    assert on_disk == set(files), f"golden files without a rendered file: {on_disk - set(files)}"


def test_committed_reference_output_in_sync():
    """startup-conf/ and calico/ at the repo root hold the rendered reference lab."""
    files = render_all(load_topology("calico-bgp-rr"))
    for rel, text in files.items():
        if rel.startswith(("startup-conf/", "calico/")):
            path = REPO / rel
            if UPDATE:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            assert path.exists() and path.read_text() == text, (
                f"{rel} drifted from the renderer: run FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py "
                "and commit startup-conf/ and calico/")


@pytest.mark.skipif(not SCHEMA.exists(), reason=f"containerlab schema not found at {SCHEMA} (../shared/contracts)")
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_clab_file_validates_against_containerlab_schema(topology):
    import jsonschema

    jsonschema.validate(_clab(topology), _schema())


def _schema() -> dict:
    # The schema's patterns use ECMAScript's \\p{N} / \\p{L} (Unicode digits/letters), which Python's
    # re lacks; [^\\W_] is the same set in Python's Unicode-aware re.
    raw = SCHEMA.read_text().replace("\\\\p{N}\\\\p{L}", "^\\\\W_")
    return json.loads(raw)


def _clab(topology: str) -> dict:
    return yaml.safe_load(render_all(load_topology(topology))["clab.yaml"])


@pytest.mark.skipif(not SCHEMA.exists(), reason=f"containerlab schema not found at {SCHEMA} (../shared/contracts)")
def test_clab_schema_rejects_a_broken_file():
    import jsonschema

    doc = _clab("calico-bgp-rr")
    doc["topology"]["nodes"]["leaf0"]["kind"] = "vyos-but-not-a-kind"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, _schema())
    doc = _clab("calico-bgp-rr")
    doc["topology"]["nodes"]["server-worker"]["network-mode"] = "shared with worker"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, _schema())


def test_clab_reference_lab_facts():
    topo = load_topology("calico-bgp-rr")
    doc = yaml.safe_load(render_all(topo)["clab.yaml"])
    nodes = doc["topology"]["nodes"]
    assert nodes["leaf0"]["cmd"] == "/sbin/init" and nodes["leaf0"]["kind"] == "linux"
    assert "startup-conf/leaf0-boot.cfg:/opt/vyatta/etc/config/config.boot" in nodes["leaf0"]["binds"]
    assert "/lib/modules:/lib/modules" in nodes["leaf0"]["binds"]
    assert nodes["br-leaf0"] == {"kind": "bridge"} and nodes["br-leaf1"] == {"kind": "bridge"}
    server = nodes["server-worker2"]
    assert server["network-mode"] == "container:calico-bgp-rr-worker2"
    assert server["exec"] == ["ip addr add 10.1.8.10/24 dev net0", "ip route replace default via 10.1.8.1"]
    endpoints = [tuple(link["endpoints"]) for link in doc["topology"]["links"]]
    assert ("spine0:eth1", "leaf0:eth1") in endpoints and ("leaf0:eth3", "br-leaf0:leaf0-eth3") in endpoints
    assert ("server-worker2:net0", "br-leaf1:worker2") in endpoints
    ports = [e.split(":")[1] for pair in endpoints for e in pair]
    assert all(len(p) <= 15 for p in ports)


# The fields kind's v1alpha4 Cluster API defines (kubernetes-sigs/kind pkg/apis/config/v1alpha4/types.go).
KIND_CLUSTER = {"kind", "apiVersion", "name", "nodes", "networking", "featureGates", "runtimeConfig",
                "kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902", "containerdConfigPatches",
                "containerdConfigPatchesJSON6902"}
KIND_NODE = {"role", "image", "labels", "extraMounts", "extraPortMappings", "kubeadmConfigPatches",
             "kubeadmConfigPatchesJSON6902"}
KIND_NETWORKING = {"ipFamily", "apiServerPort", "apiServerAddress", "podSubnet", "serviceSubnet",
                   "disableDefaultCNI", "kubeProxyMode", "dnsSearch"}


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_kind_config_uses_only_kind_fields(topology):
    topo = load_topology(topology)
    doc = yaml.safe_load(render_all(topo)["kind.yaml"])
    assert doc == kind_config(topo)
    assert set(doc) <= KIND_CLUSTER and set(doc["networking"]) <= KIND_NETWORKING
    assert doc["apiVersion"] == "kind.x-k8s.io/v1alpha4" and doc["kind"] == "Cluster"
    assert doc["networking"]["disableDefaultCNI"] is True
    assert doc["networking"]["podSubnet"] == str(topo.cluster.pod_subnet)
    for node, spec in zip(topo.cluster.nodes, doc["nodes"]):
        assert set(spec) <= KIND_NODE and spec["role"] == node.role
        (patch,) = [yaml.safe_load(p) for p in spec["kubeadmConfigPatches"]]
        assert patch["kind"] == ("InitConfiguration" if node is topo.cluster.nodes[0] else "JoinConfiguration")
        args = patch["nodeRegistration"]["kubeletExtraArgs"]
        assert args["node-ip"] == str(node.ip.ip) and f"rack={node.rack}" in args["node-labels"].split(",")


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_calico_resources_have_calico_shape(topology):
    docs = list(yaml.safe_load_all(render_all(load_topology(topology))["calico/resources.yaml"]))
    assert docs and all(set(d) == {"apiVersion", "kind", "metadata", "spec"} for d in docs)
    assert all(d["apiVersion"] == "projectcalico.org/v3" and d["metadata"]["name"] for d in docs)
    assert {d["kind"] for d in docs} <= {"BGPConfiguration", "Node", "BGPPeer", "IPPool"}


def _braces_balanced(text: str) -> bool:
    depth = 0
    for line in text.splitlines():
        if line.startswith(("//", "/*")):
            continue
        depth += line.count("{") - line.count("}")
        if depth < 0:
            return False
    return depth == 0


def test_vyos_1_4_reference_facts():
    topo = load_topology("calico-bgp-rr")
    configs = {r.name: render_vyos(topo, r) for r in topo.routers}
    assert all(_braces_balanced(c) for c in configs.values())
    leaf0 = configs["leaf0"]
    assert "system-as 65005" in leaf0 and "router-id 10.1.5.1" in leaf0
    assert re.search(r"bestpath \{\s*as-path \{\s*multipath-relax", leaf0)
    for peer, asn in (("10.1.10.2", 500), ("10.1.12.2", 800), ("10.1.5.10", 65005), ("10.1.5.11", 65005)):
        block = re.search(rf"neighbor {re.escape(peer)} \{{(.*?)\n        \}}", leaf0, re.S).group(1)
        assert f"remote-as {asn}" in block
        towards_node = peer.startswith("10.1.5.")
        assert ("route-reflector-client" in block) == towards_node and ("nexthop-self" in block) == towards_node
    assert "network 10.1.5.0/24 {" in leaf0 and "address 10.1.10.1/24" in leaf0
    assert "route-reflector-client" not in configs["spine0"] and "system-as 500" in configs["spine0"]
    router_ids = [re.search(r"router-id (\S+)", c).group(1) for c in configs.values()]
    assert len(set(router_ids)) == 4
    assert 'vyos-config-version: "bgp@4:' in leaf0 and "fib_multipath_hash_policy" in leaf0


def test_vyos_1_2_syntax(tmp_path):
    text = (TOPOLOGY_DIR / "calico-bgp-rr.yaml").read_text().replace("fabric:\n", 'fabric:\n  vyos_version: "1.2"\n', 1)
    path = tmp_path / "old.yaml"
    path.write_text(text)
    topo = load_topology(path)
    leaf1 = render_vyos(topo, topo.router("leaf1"))
    assert _braces_balanced(leaf1)
    assert "    bgp 65008 {" in leaf1 and "system-as" not in leaf1
    assert "route-reflector-client" in leaf1 and "multipath-relax" in leaf1
    assert "vyatta-config-version" in leaf1 and "Release version: 1.2.8" in leaf1


def test_render_command_writes_every_file(tmp_path):
    written = render("calico-rr-external", str(tmp_path), stream=open(os.devnull, "w"))
    rels = sorted(str(p.relative_to(tmp_path)) for p in written)
    assert rels == ["bird/rr1.conf", "calico/resources.yaml", "clab.yaml", "kind.yaml"]
    written = render("calico-bgp-rr", str(tmp_path / "ref"), stream=open(os.devnull, "w"))
    assert len(written) == 3 + 4 + 4
