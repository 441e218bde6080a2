"""The live lab's pure parts: the datastore, calicoctl's verbs against it, live IPAM."""

from __future__ import annotations

import io
import json
import textwrap
from ipaddress import ip_network

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from lab.calico import ctl
from lab.calico.ipam_state import IpamState, allocate, initial_state, recreate, reconcile_pools, release, to_plan
from lab.calico.resources import parse_resources
from lab.calico.store import Store, canonical_kind
from lab.errors import LabError

BASE = textwrap.dedent("""\
    apiVersion: projectcalico.org/v3
    kind: BGPConfiguration
    metadata: {name: default}
    spec: {nodeToNodeMeshEnabled: true, logSeverityScreen: Info}
    ---
    apiVersion: projectcalico.org/v3
    kind: Node
    metadata: {name: n1, labels: {rack: r0}}
    spec: {bgp: {ipv4Address: 10.0.0.1/24}}
    ---
    apiVersion: projectcalico.org/v3
    kind: Node
    metadata: {name: n2, labels: {rack: r0}}
    spec: {bgp: {ipv4Address: 10.0.0.2/24, asNumber: 65002}}
    ---
    apiVersion: projectcalico.org/v3
    kind: IPPool
    metadata: {name: pool-a}
    spec: {cidr: 10.244.0.0/16, blockSize: 26}
    """)

PEER = textwrap.dedent("""\
    apiVersion: projectcalico.org/v3
    kind: BGPPeer
    metadata: {name: to-rr}
    spec: {nodeSelector: all(), peerSelector: "rack == 'r0'"}
    """)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "calico")
    docs = [d for d in yaml.safe_load_all(BASE)]
    rs = parse_resources(BASE, "base")
    s.seed(docs, initial_state(rs, [("p1", "n1"), ("p2", "n2")]), "base.yaml")
    return s


def files(**texts):
    return lambda target: (texts[target], target)


def run(store: Store, *argv, **texts) -> ctl.Outcome:
    """One calicoctl command, committed when it changes something (as lab.calicoctl does)."""
    before = store.snapshot()
    outcome = ctl.run(list(argv), before, files(**texts))
    if outcome.changed:
        store.commit(before, outcome.after, " ".join(argv), outcome.changes)
    return outcome


# -- datastore --------------------------------------------------------------------------

def test_seed_stamps_metadata_and_writes_a_yaml_view(store):
    docs = store.documents()
    assert [d["kind"] for d in docs] == ["BGPConfiguration", "Node", "Node", "IPPool"]
    for doc in docs:
        assert doc["metadata"]["resourceVersion"] == "1" and doc["metadata"]["uid"]
        assert doc["apiVersion"] == "projectcalico.org/v3"
    view = list(yaml.safe_load_all((store.directory / "resources.yaml").read_text()))
    assert view == docs
    assert store.history()[0]["command"] == "seed"
    assert [p.ip for p in store.ipam().pods] == ["10.244.0.1", "10.244.0.65"]


def test_apply_stamps_the_new_revision_keeps_uid_and_logs(store):
    uid = next(d for d in store.documents() if d["metadata"]["name"] == "n1")["metadata"]["uid"]
    out = run(store, "label", "nodes", "n1", "route-reflector=true")
    assert out.text == "Successfully set label route-reflector on nodes n1\n"
    n1 = next(d for d in store.documents() if d["metadata"]["name"] == "n1")
    assert n1["metadata"]["uid"] == uid and n1["metadata"]["resourceVersion"] == "2"
    assert n1["metadata"]["labels"] == {"rack": "r0", "route-reflector": "true"}
    assert store.revision() == 2
    assert store.history()[-1]["changes"] == ["labelled Node(n1)"]


def test_commit_refuses_when_someone_else_wrote_in_between(store):
    before = store.snapshot()
    outcome = ctl.run(["label", "nodes", "n1", "a=b"], before, files())
    run(store, "label", "nodes", "n2", "c=d")
    with pytest.raises(LabError, match="changed while this command ran"):
        store.commit(before, outcome.after, "late", outcome.changes)


def test_a_damaged_store_is_one_clear_error(store):
    store.path.write_text("{not json")
    with pytest.raises(LabError, match="cannot be read.*lab.down"):
        Store(store.directory).snapshot()


@pytest.mark.parametrize("word,kind", [
    ("bgppeer", "BGPPeer"), ("bgpPeers", "BGPPeer"), ("BP", "BGPPeer"), ("bgpconfig", "BGPConfiguration"),
    ("bgpconfigurations", "BGPConfiguration"), ("ippool", "IPPool"), ("pools", "IPPool"), ("ipp", "IPPool"),
    ("node", "Node"), ("nodes", "Node"), ("no", "Node"), ("IPPoolList", "IPPool")])
def test_kind_names_calicoctl_accepts(word, kind):
    assert canonical_kind(word) == kind


def test_unknown_kind_is_an_error():
    with pytest.raises(LabError, match="resource type 'widgets' is not supported"):
        canonical_kind("widgets")


# -- calicoctl verbs ----------------------------------------------------------------------

def test_create_then_create_again_fails_and_changes_nothing(store):
    assert run(store, "create", "-f", "p.yaml", **{"p.yaml": PEER}).text == \
        "Successfully created 1 'BGPPeer' resource(s)\n"
    revision = store.revision()
    with pytest.raises(LabError, match=r"Failed to create 'BGPPeer' resource: resource already exists: BGPPeer\(to-rr\)"):
        run(store, "create", "-f", "p.yaml", **{"p.yaml": PEER})
    assert store.revision() == revision


def test_replace_missing_fails_and_replace_existing_works(store):
    with pytest.raises(LabError, match=r"resource does not exist: BGPPeer\(to-rr\)"):
        run(store, "replace", "-f", "p.yaml", **{"p.yaml": PEER})
    run(store, "apply", "-f", "p.yaml", **{"p.yaml": PEER})
    changed = PEER.replace("all()", "rack == 'r0'")
    assert "Successfully replaced 1 'BGPPeer'" in run(store, "replace", "-f", "p.yaml", **{"p.yaml": changed}).text
    assert store.resources().bgp_peers[0].node_selector == "rack == 'r0'"


def test_replace_with_a_stale_resource_version_is_an_update_conflict(store):
    stale = PEER.replace("metadata: {name: to-rr}", "metadata: {name: to-rr, resourceVersion: '1'}")
    run(store, "apply", "-f", "p.yaml", **{"p.yaml": PEER})
    with pytest.raises(LabError, match="update conflict"):
        run(store, "replace", "-f", "p.yaml", **{"p.yaml": stale})


def test_delete_by_name_and_by_file_and_missing(store):
    run(store, "apply", "-f", "p.yaml", **{"p.yaml": PEER})
    assert run(store, "delete", "bgppeer", "to-rr").text == "Successfully deleted 1 'BGPPeer' resource(s)\n"
    with pytest.raises(LabError, match=r"Failed to delete 'BGPPeer' resource: resource does not exist: BGPPeer\(to-rr\)"):
        run(store, "delete", "-f", "p.yaml", **{"p.yaml": PEER})
    assert run(store, "delete", "bgppeer", "to-rr", "--skip-not-exists").text == "No resources deleted\n"


def test_multi_document_file_with_one_bad_document_changes_nothing(store):
    bad = PEER + "---\n" + PEER.replace("to-rr", "broken").replace("rack == 'r0'", "rack = 'r0'")
    revision = store.revision()
    with pytest.raises(LabError, match="broken|selector"):
        run(store, "apply", "-f", "p.yaml", **{"p.yaml": bad})
    assert store.revision() == revision and not store.resources().bgp_peers


def test_all_or_nothing_when_a_later_document_already_exists(store):
    run(store, "create", "-f", "p.yaml", **{"p.yaml": PEER})
    two = PEER.replace("to-rr", "other") + "---\n" + PEER
    with pytest.raises(LabError, match="already exists"):
        run(store, "create", "-f", "p.yaml", **{"p.yaml": two})
    assert [p.name for p in store.resources().bgp_peers] == ["to-rr"]


def test_bad_selector_error_names_the_file_and_the_column(store):
    bad = PEER.replace("rack == 'r0'", "rack == r0")
    with pytest.raises(LabError) as info:
        run(store, "apply", "-f", "p.yaml", **{"p.yaml": bad})
    assert "p.yaml" in str(info.value) and "column" in str(info.value)


def test_list_kinds_and_stdin(store):
    listed = {"apiVersion": "projectcalico.org/v3", "kind": "BGPPeerList",
              "items": [yaml.safe_load(PEER), yaml.safe_load(PEER.replace("to-rr", "second"))]}
    out = run(store, "apply", "-f", "-", **{"-": yaml.safe_dump(listed)})
    assert out.text == "Successfully applied 2 'BGPPeer' resource(s)\n"


def test_directory_input(store, tmp_path):
    d = tmp_path / "peers"
    d.mkdir()
    (d / "a.yaml").write_text(PEER)
    (d / "b.yaml").write_text(PEER.replace("to-rr", "b"))
    before = store.snapshot()
    out = ctl.run(["apply", "-f", str(d)], before, lambda p: (open(p).read(), p))
    assert [c.name for c in out.changes] == ["to-rr", "b"]


def test_get_tables_match_calicoctl_columns(store):
    run(store, "apply", "-f", "p.yaml", **{"p.yaml": PEER})
    nodes = run(store, "get", "nodes", "-o", "wide").text.splitlines()
    assert nodes[0].split() == ["NAME", "ASN", "IPV4", "IPV6"]
    assert nodes[1].split() == ["n1", "(64512)", "10.0.0.1/24"]  # inherited AS in parentheses
    assert nodes[2].split() == ["n2", "65002", "10.0.0.2/24"]
    assert run(store, "get", "node").text.splitlines() == ["NAME", "n1", "n2"]
    peers = run(store, "get", "bgpPeers").text.splitlines()
    assert peers[0].split() == ["NAME", "PEERIP", "NODE", "ASN"]
    assert peers[1].split() == ["to-rr", "all()", "0"]
    pools = run(store, "get", "ippool", "-o", "wide").text.splitlines()
    assert pools[0].split() == ["NAME", "CIDR", "NAT", "IPIPMODE", "VXLANMODE", "DISABLED", "DISABLEBGPEXPORT", "SELECTOR"]
    assert pools[1].split() == ["pool-a", "10.244.0.0/16", "false", "Never", "Never", "false", "false", "all()"]
    conf = run(store, "get", "bgpconfig").text.splitlines()
    assert conf[1].split() == ["default", "Info", "true", "-"]


def test_get_global_peer_shows_global(store):
    glob = PEER.replace("nodeSelector: all(), peerSelector: \"rack == 'r0'\"", "peerIP: 10.0.0.99, asNumber: 65100")
    run(store, "apply", "-f", "p.yaml", **{"p.yaml": glob})
    assert run(store, "get", "bgppeer").text.splitlines()[1].split() == ["to-rr", "10.0.0.99", "(global)", "65100"]


def test_get_yaml_json_single_and_list(store):
    single = yaml.safe_load(run(store, "get", "node", "n1", "-o", "yaml").text)
    assert single["kind"] == "Node" and single["metadata"]["name"] == "n1"
    listed = json.loads(run(store, "get", "nodes", "-o", "json").text)
    assert listed["kind"] == "NodeList" and [i["metadata"]["name"] for i in listed["items"]] == ["n1", "n2"]
    assert listed["metadata"]["resourceVersion"] == "1"
    with pytest.raises(LabError, match=r"resource does not exist: Node\(nope\)"):
        run(store, "get", "node", "nope")


def test_patch_is_a_merge_patch_and_validates(store):
    run(store, "patch", "bgpconfiguration", "default", "-p", '{"spec": {"nodeToNodeMeshEnabled": false, "asNumber": 65009}}')
    conf = store.resources().default_bgp_configuration()
    assert conf.node_to_node_mesh_enabled is False and conf.as_number == 65009
    run(store, "patch", "bgpconfig", "default", "-p", '{"spec": {"asNumber": null}}')
    assert store.resources().default_bgp_configuration().as_number is None
    with pytest.raises(LabError, match="out of range"):
        run(store, "patch", "bgpconfig", "default", "-p", '{"spec": {"asNumber": 0}}')
    with pytest.raises(LabError, match="not valid JSON"):
        run(store, "patch", "bgpconfig", "default", "-p", "{spec")
    with pytest.raises(LabError, match="does not exist"):
        run(store, "patch", "bgppeer", "nope", "-p", "{}")


def test_ippool_cidr_and_block_size_are_immutable_and_new_pools_may_not_overlap(store):
    with pytest.raises(LabError, match="IPPool CIDR cannot be modified"):
        run(store, "patch", "ippool", "pool-a", "-p", '{"spec": {"cidr": "10.250.0.0/16"}}')
    with pytest.raises(LabError, match="BlockSize cannot be modified"):
        run(store, "patch", "ippool", "pool-a", "-p", '{"spec": {"blockSize": 24}}')
    overlap = "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: b}\nspec: {cidr: 10.244.128.0/17}\n"
    with pytest.raises(LabError, match=r"overlaps with IPPool\(pool-a\)"):
        run(store, "create", "-f", "b.yaml", **{"b.yaml": overlap})


def test_label_overwrite_and_remove(store):
    run(store, "label", "nodes", "n1", "rr=true")
    with pytest.raises(LabError, match="already present. use --overwrite"):
        run(store, "label", "nodes", "n1", "rr=false")
    run(store, "label", "nodes", "n1", "rr=false", "--overwrite")
    assert store.resources().node("n1").labels["rr"] == "false"
    assert run(store, "label", "nodes", "n1", "rr", "--remove").text == "Successfully removed label rr from nodes n1\n"
    assert "rr" not in store.resources().node("n1").labels
    with pytest.raises(LabError, match="does not exist"):
        run(store, "label", "nodes", "n1", "rr", "--remove")
    with pytest.raises(LabError, match=r"Node\(n9\)"):
        run(store, "label", "nodes", "n9", "a=b")


@pytest.mark.parametrize("argv,message", [
    ([], "give a command"), (["frobnicate"], "unknown command"), (["node", "status"], "runs on a node"),
    (["get"], "calicoctl get"), (["apply"], "calicoctl apply"), (["delete"], "give -f FILE"),
    (["get", "widgets"], "not supported")])
def test_command_line_errors(store, argv, message):
    with pytest.raises(LabError, match=message):
        ctl.run(argv, store.snapshot(), files())


def test_lint_findings_new_with_the_change_are_reported(store):
    # A reflector peer selection with no cluster ID anywhere: nothing will be reflected.
    run(store, "patch", "node", "n2", "-p", '{"spec": {"bgp": {"asNumber": null}}}')  # all in one AS: iBGP
    out = ctl.run(["apply", "-f", "p.yaml"], store.snapshot(), files(**{"p.yaml": PEER}))
    assert any("no node has a routeReflectorClusterID" in f for f in out.findings)
    # A cluster ID while the mesh is on and no BGPPeer selects the node: it drops out at once.
    out = ctl.run(["patch", "node", "n1", "-p", '{"spec": {"bgp": {"routeReflectorClusterID": "224.0.0.1"}}}'],
                  store.snapshot(), files())
    assert any("leaves the mesh at once" in f for f in out.findings)


def test_ipam_show(store):
    text = run(store, "ipam", "show", "--show-blocks").text
    assert "| IP Pool  | 10.244.0.0/16 " in text and "| Block    | 10.244.0.0/26 " in text
    assert "1 (2%)" in text


# -- live IPAM ----------------------------------------------------------------------------

def _rs(pools: str = "") -> object:
    return parse_resources(BASE + pools, "t")


POOL_B = "---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: pool-b}\nspec: {cidr: 10.245.0.0/16}\n"


def test_pool_migration_blocks_drain_only_when_pods_move():
    rs = _rs()
    state = initial_state(rs, [("p1", "n1"), ("p2", "n2")])
    rs_disabled = parse_resources(BASE.replace("blockSize: 26}", "blockSize: 26, disabled: true}") + POOL_B, "t")
    state = reconcile_pools(state, rs_disabled)  # disabling changes nothing that exists
    assert {b.cidr for b in state.blocks} == {"10.244.0.0/26", "10.244.0.64/26"}
    state = recreate(state, rs_disabled, "p1")
    assert state.pod("p1").ip.startswith("10.245.") and state.pod("p2").ip.startswith("10.244.")
    assert "10.244.0.0/26" not in {b.cidr for b in state.blocks}  # drained: its affinity released
    assert "10.244.0.64/26" in {b.cidr for b in state.blocks}


def test_deleting_a_pool_with_pods_releases_the_affinity_but_keeps_the_addresses():
    rs = _rs()
    state = initial_state(rs, [("p1", "n1")])
    gone = parse_resources(BASE.split("---\napiVersion: projectcalico.org/v3\nkind: IPPool")[0] + POOL_B, "t")
    state = reconcile_pools(state, gone)
    assert state.pod("p1").ip == "10.244.0.1"
    assert state.block("10.244.0.0/26").node is None
    assert to_plan(state, gone).blocks == {}  # nobody blackholes or advertises it any more


def test_recreate_takes_the_next_address_not_the_one_just_freed():
    rs = _rs()
    state = initial_state(rs, [("p1", "n1"), ("p2", "n1")])
    state = recreate(state, rs, "p1")
    assert state.pod("p1").ip == "10.244.0.3" and state.pod("p2").ip == "10.244.0.2"


def test_a_disabled_pool_still_exports_its_blocks_and_disable_bgp_export_does_not():
    state = initial_state(_rs(), [("p1", "n1")])
    disabled = parse_resources(BASE.replace("blockSize: 26}", "blockSize: 26, disabled: true}"), "t")
    assert to_plan(state, disabled).exported() == ("10.244.0.0/26",)
    no_export = parse_resources(BASE.replace("blockSize: 26}", "blockSize: 26, disableBGPExport: true}"), "t")
    assert to_plan(state, no_export).exported() == ()


def test_no_enabled_pool_is_a_clear_error():
    disabled = parse_resources(BASE.replace("blockSize: 26}", "blockSize: 26, disabled: true}"), "t")
    with pytest.raises(LabError, match="no enabled IP pool selects this node"):
        allocate(IpamState(), disabled, "n1", "p1")


ops = st.lists(st.tuples(st.sampled_from(["add", "release", "recreate"]), st.sampled_from(["n1", "n2"]),
                         st.integers(0, 9)), max_size=60)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_ipam_invariants_hold_under_any_sequence(sequence):
    small = parse_resources(BASE.replace("cidr: 10.244.0.0/16, blockSize: 26", "cidr: 10.244.0.0/28, blockSize: 30"), "t")
    state = IpamState()
    for op, node, index in sequence:
        name = f"p{index}"
        try:
            if op == "add" and state.pod(name) is None:
                state = allocate(state, small, node, name)
            elif op == "release":
                state = release(state, small, name)
            elif op == "recreate" and state.pod(name) is not None:
                state = recreate(state, small, name)
        except LabError as exc:
            assert "full" in str(exc)
            continue
        ips = [p.ip for p in state.pods]
        assert len(ips) == len(set(ips)), "an address handed out twice"
        blocks = {b.cidr: b for b in state.blocks}
        for pod in state.pods:
            assert pod.block in blocks and ip_network(f"{pod.ip}/32").subnet_of(ip_network(pod.block))
            assert blocks[pod.block].node == pod.node
        nets = [ip_network(c) for c in blocks]
        assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
        assert all(n.subnet_of(ip_network("10.244.0.0/28")) for n in nets)


def test_stdin_reader_of_the_command(tmp_path, store, monkeypatch):
    from lab.providers.netns.live import reader

    read = reader(io.StringIO(PEER))
    assert read("-") == (PEER, "<stdin>")
    with pytest.raises(LabError, match="cannot read"):
        read(str(tmp_path / "missing.yaml"))
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(LabError, match="not a UTF-8"):
        read(str(tmp_path / "bin.yaml"))


def test_unknown_field_is_an_error_with_a_suggestion_and_the_line(store):
    typo = PEER.replace("nodeSelector: all()", "nodeSelectr: all()")
    with pytest.raises(LabError) as info:
        run(store, "apply", "-f", "p.yaml", **{"p.yaml": typo})
    text = str(info.value)
    assert "p.yaml:4" in text and "nodeSelectr" in text and "nodeSelector" in text
    assert not store.resources().bgp_peers


def test_unknown_kind_in_a_file_is_an_error(store):
    widget = "apiVersion: projectcalico.org/v3\nkind: Widget\nmetadata: {name: w}\nspec: {}\n"
    with pytest.raises(LabError, match="Widget"):
        run(store, "apply", "-f", "w.yaml", **{"w.yaml": widget})


def test_a_field_newer_than_the_labs_calico_is_refused_as_that_release_would(tmp_path):
    old = Store(tmp_path / "old", version="v3.23.5")
    docs = [d for d in yaml.safe_load_all(BASE)]
    old.seed(docs, initial_state(parse_resources(BASE, "base"), []), "base.yaml")
    ttl = PEER.replace("spec: {", "spec: {ttlSecurity: 1, ")
    before = old.snapshot()
    with pytest.raises(LabError, match="added in v3.25"):
        ctl.run(["apply", "-f", "p.yaml"], before, files(**{"p.yaml": ttl}), old.version)
    assert ctl.run(["apply", "-f", "p.yaml"], before, files(**{"p.yaml": ttl}), "v3.31.3").changed
