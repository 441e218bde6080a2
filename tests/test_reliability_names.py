"""Names inside one topology that would share a namespace: one load-time error naming the file,
the line and field of the second owner, and the first owner (issue 11, item 4)."""

from __future__ import annotations

import re

import pytest

from lab.errors import TopologyError
from lab.loader import TOPOLOGY_DIR, load_topology

REFERENCE = (TOPOLOGY_DIR / "calico-bgp-rr.yaml").read_text()
EXTERNAL = (TOPOLOGY_DIR / "calico-rr-external.yaml").read_text()


def _rename(text: str, old: str, new: str) -> str:
    """Rename one object everywhere it is written (keys, links, references)."""
    return re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, text)


CASES = {
    # name: (topology text, field of the error, line of the error, words the message must contain)
    "router named like a node": (_rename(REFERENCE, "spine1", "worker"), "cluster.nodes.worker", 43,
                                 ["'worker' (a Calico node)", "a spine, fabric.routers.worker (line 14)"]),
    "router named like a pod": (_rename(REFERENCE, "spine1", "worker-pod0"), "cluster.nodes.worker", 43,
                                ["'worker-pod0' (pod 0 of node worker)", "fabric.routers.worker-pod0 (line 14)"]),
    "router named like a bridge": (_rename(REFERENCE, "spine1", "br-leaf1"), "fabric.routers.br-leaf1", 14,
                                   ["'br-leaf1' (a spine)", "the bridge of rack rack1, racks.rack1.bridge (line 36)"]),
    "leaf named like a bridge": (_rename(REFERENCE, "leaf0", "br-leaf0"), "fabric.routers.br-leaf0", 18,
                                 ["'br-leaf0' (a leaf)", "the bridge of rack rack0"]),
    "bridge named like a node": (_rename(REFERENCE, "br-leaf1", "worker2"), "cluster.nodes.worker2", 44,
                                 ["'worker2' (a Calico node)", "the bridge of rack rack1"]),
    "host named like a node": (_rename(EXTERNAL, "rr1", "worker"), "hosts.worker", 11,
                               ["'worker' (a host)", "a Calico node, cluster.nodes.worker"]),
    "host named like a bridge": (_rename(EXTERNAL, "rr1", "br-ext"), "hosts.br-ext", 11,
                                 ["'br-ext' (a host)", "the bridge of rack rack0"]),
    "host named like a pod": (_rename(EXTERNAL, "rr1", "worker2-pod0"), "cluster.nodes.worker2", 18,
                              ["'worker2-pod0' (pod 0 of node worker2)", "a host, hosts.worker2-pod0 (line 11)"]),
}


@pytest.mark.parametrize("label", CASES)
def test_a_name_clash_is_one_load_time_error_with_file_line_field_and_the_other_owner(label, tmp_path):
    text, field, line, words = CASES[label]
    path = tmp_path / "clash.yaml"
    path.write_text(text)
    with pytest.raises(TopologyError) as err:
        load_topology(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: {field}: "), message
    assert (err.value.field, err.value.line) == (field, line)
    for word in words:
        assert word in message, message
    assert "namespace of its own" in message and "\n" not in message


def test_shipped_topologies_have_no_clashes():
    for path in sorted(TOPOLOGY_DIR.glob("*.yaml")):
        load_topology(path)


def test_a_pod_count_of_zero_frees_the_pod_name(tmp_path):
    text = _rename(REFERENCE, "spine1", "worker-pod0").replace(
        "worker:        {rack: rack0, ip: 10.1.5.11}", "worker:        {rack: rack0, ip: 10.1.5.11, pods: 0}")
    path = tmp_path / "nopods.yaml"
    path.write_text(text)
    assert load_topology(path).router("worker-pod0")
