"""Calico resources: projectcalico.org/v3 documents, each with apiVersion, kind, metadata and spec."""

from __future__ import annotations

import pytest
import yaml

from render_helpers import REFERENCE, TOPOLOGIES, rendered

KINDS = {"BGPConfiguration", "Node", "BGPPeer", "IPPool"}


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_calico_resources_have_calico_shape(topology):
    docs = list(yaml.safe_load_all(rendered(topology)["calico/resources.yaml"]))
    assert docs
    for doc in docs:
        assert list(doc) == ["apiVersion", "kind", "metadata", "spec"], doc
        assert doc["apiVersion"] == "projectcalico.org/v3" and doc["kind"] in KINDS
        assert isinstance(doc["metadata"]["name"], str) and doc["metadata"]["name"]
        assert isinstance(doc["spec"], dict)
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), "one document per kind and name"
    assert docs[0]["kind"] == "BGPConfiguration" and docs[0]["metadata"]["name"] == "default"


def test_reference_lab_resources():
    docs = {(d["kind"], d["metadata"]["name"]): d["spec"] for d in yaml.safe_load_all(rendered(REFERENCE)["calico/resources.yaml"])}
    assert docs[("BGPConfiguration", "default")]["nodeToNodeMeshEnabled"] is False
    assert docs[("BGPPeer", "rack0-to-leaf0")] == {"peerIP": "10.1.5.1", "asNumber": 65005, "nodeSelector": "rack == 'rack0'"}
    assert docs[("BGPPeer", "rack1-to-leaf1")] == {"peerIP": "10.1.8.1", "asNumber": 65008, "nodeSelector": "rack == 'rack1'"}
    assert docs[("Node", "calico-bgp-rr-worker2")]["bgp"] == {"ipv4Address": "10.1.8.10/24", "asNumber": 65008}
