"""Strict decoding of Calico resources: every bad input gives one error naming file, line, document, field, problem."""

from __future__ import annotations

import textwrap

import pytest

from lab.calico.resources import BGPPeer, IPPool, Node, decode_document, parse_resources
from lab.calico.versions import parse_version
from lab.errors import LabError, ResourceError

PEER = "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: p\nspec:\n"
NODE = "apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: n\nspec:\n  bgp:\n"
POOL = "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: pool\nspec:\n  cidr: 10.244.0.0/16\n"
CONF = "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n"
FILTER = "apiVersion: projectcalico.org/v3\nkind: BGPFilter\nmetadata:\n  name: f\nspec:\n"

# (text, line, field, problem)
BAD = [
    (PEER + "  nodeSelectr: all()\n  peerIP: 10.0.0.1\n  asNumber: 1\n", 6, "spec.nodeSelectr", "did you mean 'nodeSelector'"),
    (PEER + "  peerIP: 10.0.0.1\n  peerIP: 10.0.0.2\n", 7, "peerIP", "duplicate key"),
    (PEER + "  node: a\n  nodeSelector: all()\n  peerSelector: all()\n", 6, "spec.node", "cannot both be set"),
    (PEER + "  peerSelector: all()\n  asNumber: 65000\n", 7, "spec.asNumber", "must be empty with peerSelector"),
    (PEER + "  peerIP: fd00::1\n  asNumber: 1\n", 6, "spec.peerIP", "IPv6 peer fd00::1 is not supported"),
    (PEER + "  peerIP: 10.0.0.1\n  asNumber: 1\n  localWorkloadSelector: all()\n", 8, "spec.localWorkloadSelector",
     "field localWorkloadSelector is not supported by the netns lab"),
    (PEER + "  peerIP: 10.0.0.1\n  asNumber: 1\n  keepaliveTime: soon\n", 8, "spec.keepaliveTime", "not a duration"),
    (PEER + "  peerIP: 10.0.0.1\n  asNumber: 1\n  password: {secretKeyRef: {name: s}}\n", 8,
     "spec.password.secretKeyRef.key", "required field is missing"),
    (PEER + "  peerIP: 10.0.0.1\n  asNumber: 1\n  nextHopMode: Maybe\n", 8, "spec.nextHopMode", "not one of Auto, Self, Keep"),
    (NODE + "    ipv4Address: 10.0.0.1/24\n    ipv6Address: fd00::1/64\n", 8, "spec.bgp.ipv6Address",
     "field ipv6Address is not supported by the netns lab: IPv6"),
    (NODE + "    ipv4Adress: 10.0.0.1/24\n", 7, "spec.bgp.ipv4Adress", "did you mean 'ipv4Address'"),
    (NODE + "    ipv4Address: 10.0.0.1/24\n  wireguard: {interfaceIPv4Address: 10.9.0.1}\n", 8, "spec.wireguard",
     "not supported by the netns lab"),
    (POOL + "  ipipMode: CrossSubnet\n", 7, "spec.ipipMode", "pure BGP mode"),
    (POOL + "  vxlanMode: Always\n", 7, "spec.vxlanMode", "use Never"),
    (POOL + "  allowedUses: [LoadBalancer]\n", 7, "spec.allowedUses", "not supported by the netns lab"),
    (POOL + "  assignmentMode: Manual\n", 7, "spec.assignmentMode", "not one of Automatic"),
    (POOL + "  blockSize: 8\n", 7, "spec.blockSize", "between the pool's prefix length and 32"),
    (CONF + "  nodeToNodeMeshEnable: false\n", 6, "spec.nodeToNodeMeshEnable", "did you mean 'nodeToNodeMeshEnabled'"),
    (CONF + "  serviceClusterIPs:\n  - cidr: fd00::/108\n", 7, "spec.serviceClusterIPs[0].cidr", "IPv6"),
    (CONF + "  listenPort: 70000\n", 6, "spec.listenPort", "not a TCP port"),
    (CONF + "  prefixAdvertisements:\n  - cidr: 10.244.0.0/16\n    communities: [nope]\n", 8,
     "spec.prefixAdvertisements[0].communities", "neither a community value nor a name"),
    (CONF.replace("default", "node.n1") + "  asNumber: 65000\n", 6, "spec.asNumber", "only valid in BGPConfiguration 'default'"),
    (FILTER + "  exportV4:\n  - cidr: 10.0.0.0/8\n    action: Accept\n", 7, "spec.exportV4[0].matchOperator", "required with cidr"),
    (FILTER + "  importV4:\n  - action: Drop\n", 7, "spec.importV4[0].action", "not one of Accept, Reject"),
    (FILTER + "  exportV6:\n  - {cidr: 'fd00::/8', matchOperator: In, action: Reject}\n", 6, "spec.exportV6", "IPv6"),
    (FILTER + "  exportV4:\n  - {cidr: 10.0.0.0/8, matchOperator: In, action: Reject, communities: {values: ['1:2']}}\n",
     7, "spec.exportV4[0].communities", "not supported by the netns lab"),
    ("apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: n\n  nmae: x\n", 5, "metadata.nmae", "did you mean 'name'"),
    ("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: x}\n", 2, "kind", "unsupported kind"),
    ("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: p\nspec: {peerIP: [\n", None, "", "YAML syntax error"),
    (PEER + "  peerIP: 10.0.0.1\n  asNumber: !Ref 500\n", 7, "", "YAML tags such as '!Ref' are not supported"),
]


def test_unreadable_resource_file_is_one_error(tmp_path):
    from lab.calico.resources import load_resources

    (tmp_path / "x.yaml").write_bytes(b"\xff\xfekind: Node")
    with pytest.raises(ResourceError, match="not UTF-8 text"):
        load_resources([tmp_path])


@pytest.mark.parametrize("text,line,field,problem", BAD, ids=[f"{b[2] or 'yaml'}-{i}" for i, b in enumerate(BAD)])
def test_bad_resources_name_file_line_field_problem(text, line, field, problem):
    with pytest.raises(ResourceError) as info:
        parse_resources(text, "calico/x.yaml")
    err = info.value
    assert err.file == "calico/x.yaml" and problem in err.problem and field in err.field, str(err)
    if line is not None:
        assert err.line == line, str(err)
    if field and field not in ("peerIP",):
        assert "document 1" in err.field
    assert "\n" not in str(err)


@pytest.mark.parametrize("text,field,since", [
    (PEER + "  peerIP: 10.0.0.1\n  asNumber: 1\n  ttlSecurity: 2\n", "spec.ttlSecurity", "v3.25"),
    (PEER + "  peerIP: 10.0.0.1\n  asNumber: 1\n  keepaliveTime: 10s\n", "spec.keepaliveTime", "v3.32"),
    (PEER + "  peerIP: 10.0.0.1\n  asNumber: 1\n  reversePeering: Manual\n", "spec.reversePeering", "v3.31"),
    (FILTER + "  exportV4: []\n", "kind", "v3.26"),
])
def test_fields_newer_than_the_labs_calico_are_unknown_there(text, field, since):
    with pytest.raises(ResourceError) as info:
        parse_resources(text, "x.yaml", version=parse_version("v3.23.5"))
    assert field in info.value.field and since in info.value.problem
    parse_resources(text, "x.yaml", version=parse_version("v3.32.1"))  # known there


def test_metadata_calicoctl_accepts_and_everything_decoded():
    rs = parse_resources(textwrap.dedent("""
        apiVersion: projectcalico.org/v3
        kind: BGPPeer
        metadata:
          name: p
          labels: {a: b}
          annotations: {note: x}
          resourceVersion: "12"
          uid: 3f1c
          creationTimestamp: "2024-01-01T00:00:00Z"
          generation: 2
        spec:
          peerIP: 10.0.0.1:1790
          asNumber: 65001.5
          localASNumber: 65002
          password: {secretKeyRef: {name: bgp, key: pw}}
          ttlSecurity: 2
          keepaliveTime: 1m30s
          maxRestartTime: 2m
          numAllowedLocalASNumbers: 1
          nextHopMode: Self
          sourceAddress: None
          filters: [f]
          reachableBy: 10.0.0.254
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: bgp, namespace: calico-system}
        data: {pw: c2VjcmV0}
        """), "x.yaml")
    (peer,) = rs.bgp_peers
    assert peer == BGPPeer("p", peer_ip="10.0.0.1", port=1790, as_number=65001 * 65536 + 5, local_as_number=65002,
                           password=("bgp", "pw"), ttl_security=2, keepalive_time=90, max_restart_time=120,
                           num_allowed_local_as=1, next_hop_mode="Self", source_address="None", filters=("f",),
                           reachable_by="10.0.0.254")
    assert rs.secret_value(peer.password, "BGPPeer/p") == "secret"
    with pytest.raises(LabError, match="Secret 'bgp' key 'nope'"):
        rs.secret_value(("bgp", "nope"), "BGPPeer/p")


def test_decode_document_takes_a_plain_mapping():
    node = decode_document({"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": "n"},
                            "spec": {"bgp": {}}}, "store", 0, None)
    assert node == Node("n") and node.ip is None  # no ipv4Address: IPv4 BGP disabled, not an error
    pool = decode_document({"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "p"},
                            "spec": {"cidr": "10.9.0.0/16", "natOutgoing": True}, "status": {}}, "store", 3, 7)
    assert isinstance(pool, IPPool) and pool.nat_outgoing
    with pytest.raises(ResourceError) as info:
        decode_document({"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "p"},
                         "spec": {"cidr": "10.9.0.0/16", "natOutgoin": True}}, "store", 3, 7)
    assert info.value.line == 7 and "document 4" in info.value.field and "natOutgoing" in info.value.problem


def test_topology_calico_version_and_lab_timers_are_validated(tmp_path):
    import pytest as _pytest
    from render_helpers import topology_variant

    from lab.errors import TopologyError

    topo = topology_variant(tmp_path, lambda d: d["calico"].update(version="v3.32.1", lab_timers=True))
    assert topo.calico.version == "v3.32.1" and topo.calico.lab_timers
    with _pytest.raises(TopologyError, match="calico.version: calico.version 'v2.6.0' is not a Calico v3 release"):
        topology_variant(tmp_path, lambda d: d["calico"].update(version="v2.6.0"))
    with _pytest.raises(TopologyError, match="calico.lab_timers"):
        topology_variant(tmp_path, lambda d: d["calico"].update(lab_timers="yes"))
