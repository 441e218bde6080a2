"""kind cluster config: only fields kind's v1alpha4 API defines; per-node roles, node-ip and labels."""

from __future__ import annotations

import pytest
import yaml

from lab.loader import load_topology
from lab.render.kind import kind_config, render_kind
from render_helpers import REFERENCE, TOPOLOGIES, rendered, topology_variant

# kind's v1alpha4 config API as a recursive allow-list (kubernetes-sigs/kind
# pkg/apis/config/v1alpha4/types.go): a dict lists a struct's fields, [x] is a list of x,
# MAP a map of strings, and a type a scalar of that type.
MAP = "map"
PATCH_JSON6902 = {"group": str, "version": str, "kind": str, "patch": str}
KIND_V1ALPHA4 = {
    "kind": str, "apiVersion": str, "name": str,
    "nodes": [{
        "role": str, "image": str, "labels": MAP,
        "extraMounts": [{"containerPath": str, "hostPath": str, "readOnly": bool, "selinuxRelabel": bool,
                         "propagation": str}],
        "extraPortMappings": [{"containerPort": int, "hostPort": int, "listenAddress": str, "protocol": str}],
        "kubeadmConfigPatches": [str],
        "kubeadmConfigPatchesJSON6902": [PATCH_JSON6902],
    }],
    "networking": {"ipFamily": str, "apiServerPort": int, "apiServerAddress": str, "podSubnet": str,
                   "serviceSubnet": str, "disableDefaultCNI": bool, "kubeProxyMode": str, "dnsSearch": [str]},
    "featureGates": MAP, "runtimeConfig": MAP,
    "kubeadmConfigPatches": [str], "kubeadmConfigPatchesJSON6902": [PATCH_JSON6902],
    "containerdConfigPatches": [str], "containerdConfigPatchesJSON6902": [str],
}
ROLES = {"control-plane", "worker"}  # v1alpha4 NodeRole values


def kind_problems(value, schema, path: str = "") -> list[str]:
    if schema == MAP:
        ok = isinstance(value, dict) and all(isinstance(k, str) for k in value)
        return [] if ok else [f"{path}: expected a map of strings"]
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [p for i, item in enumerate(value) for p in kind_problems(item, schema[0], f"{path}[{i}]")]
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping"]
        problems = [f"{path}.{key}: kind v1alpha4 has no such field" for key in value if key not in schema]
        return problems + [p for key in value if key in schema
                           for p in kind_problems(value[key], schema[key], f"{path}.{key}")]
    ok = isinstance(value, schema) and not (schema is int and isinstance(value, bool))
    return [] if ok else [f"{path}: expected {schema.__name__}, got {value!r}"]


def _patches(node_doc: dict) -> list[dict]:
    return [yaml.safe_load(p) for p in node_doc["kubeadmConfigPatches"]]


def test_allow_list_catches_fields_kind_does_not_know():
    doc = yaml.safe_load(rendered(REFERENCE)["kind.yaml"])
    doc["networking"]["disableDefaultCni"] = True
    doc["nodes"][0]["kubeletExtraArgs"] = {}
    doc["networking"]["apiServerPort"] = "6443"
    assert sorted(kind_problems(doc, KIND_V1ALPHA4)) == [
        ".networking.apiServerPort: expected int, got '6443'",
        ".networking.disableDefaultCni: kind v1alpha4 has no such field",
        ".nodes[0].kubeletExtraArgs: kind v1alpha4 has no such field",
    ]


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_kind_config_uses_only_kind_fields(topology):
    topo = load_topology(topology)
    doc = yaml.safe_load(rendered(topology)["kind.yaml"])
    assert doc == kind_config(topo)
    assert kind_problems(doc, KIND_V1ALPHA4) == []
    assert doc["apiVersion"] == "kind.x-k8s.io/v1alpha4" and doc["kind"] == "Cluster"
    assert doc["name"] == topo.cluster.name
    assert doc["networking"] == {"disableDefaultCNI": True, "podSubnet": str(topo.cluster.pod_subnet),
                                 "serviceSubnet": str(topo.cluster.service_subnet)}  # kube-proxy kept (no mode)


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_each_node_gets_its_role_image_node_ip_and_labels(topology):
    topo = load_topology(topology)
    doc = yaml.safe_load(rendered(topology)["kind.yaml"])
    assert len(doc["nodes"]) == len(topo.cluster.nodes)
    for node, spec in zip(topo.cluster.nodes, doc["nodes"]):
        assert spec["role"] == node.role and spec["role"] in ROLES
        assert spec["image"] == topo.cluster.kind_image
        (patch,) = _patches(spec)
        first = node is topo.cluster.nodes[0]
        assert patch["kind"] == ("InitConfiguration" if first else "JoinConfiguration")
        assert "apiVersion" not in patch  # kind then patches whatever kubeadm API the image uses
        args = patch["nodeRegistration"]["kubeletExtraArgs"]
        assert args["node-ip"] == str(node.ip.ip)
        labels = dict(item.split("=", 1) for item in args["node-labels"].split(","))
        assert labels == dict(node.labels) and labels["rack"] == node.labels.get("rack", node.rack)


def test_reference_lab_kind_config():
    doc = yaml.safe_load(rendered(REFERENCE)["kind.yaml"])
    assert [(n["role"], _patches(n)[0]["nodeRegistration"]["kubeletExtraArgs"]) for n in doc["nodes"]] == [
        ("control-plane", {"node-ip": "10.1.5.10", "node-labels": "rack=rack0"}),
        ("worker", {"node-ip": "10.1.5.11", "node-labels": "rack=rack0"}),
        ("worker", {"node-ip": "10.1.8.10", "node-labels": "rack=rack1"}),
        ("worker", {"node-ip": "10.1.8.11", "node-labels": "rack=rack1"}),
    ]
    assert doc["networking"]["podSubnet"] == "10.244.0.0/16"


def test_further_control_planes_join_as_control_planes_and_extra_labels_are_kept(tmp_path):
    def change(doc):
        nodes = doc["cluster"]["nodes"]
        nodes["control-plane2"] = {"role": "control-plane", "rack": "rack1", "ip": "10.1.8.12"}
        nodes["worker"]["labels"] = {"zone": "a", "disk": "ssd"}

    topo = topology_variant(tmp_path, change)
    doc = yaml.safe_load(render_kind(topo))
    assert kind_problems(doc, KIND_V1ALPHA4) == []
    by_ip = {_patches(n)[0]["nodeRegistration"]["kubeletExtraArgs"]["node-ip"]: (n["role"], _patches(n)[0]) for n in doc["nodes"]}
    role, patch = by_ip["10.1.5.10"]
    assert role == "control-plane" and patch["kind"] == "InitConfiguration" and "controlPlane" not in patch
    role, patch = by_ip["10.1.8.12"]
    assert role == "control-plane" and patch["kind"] == "JoinConfiguration" and patch["controlPlane"] == {}
    role, patch = by_ip["10.1.5.11"]
    assert role == "worker" and "controlPlane" not in patch
    assert patch["nodeRegistration"]["kubeletExtraArgs"]["node-labels"] == "disk=ssd,rack=rack0,zone=a"
