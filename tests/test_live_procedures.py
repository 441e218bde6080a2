"""DESIGN.md §3.1's procedures, step by step on running netns labs, with `lab.calicoctl` only.

After every step: each node's `calicoctl node status` table as calico-node would show it
(written out here by hand, not taken from the planner), routes on two nodes, and pods
reachable where the procedure says they are.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lab.calico.status import parse_birdc_protocols
from live_helpers import GLOBAL, MESH, NODE, block_of, checks_pass, ctl, fresh_lab, ip, k8s, table, wait_routes, \
    wait_tables
from netns_helpers import quiet, requires_netns

pytestmark = [requires_netns, pytest.mark.netns]
REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "topologies"

RR_PEER = textwrap.dedent("""\
    apiVersion: projectcalico.org/v3
    kind: BGPPeer
    metadata: {name: peer-with-route-reflectors}
    spec:
      nodeSelector: all()
      peerSelector: route-reflector == 'true'
    """)


def mesh_tables(lab, nodes):
    return {n: {(ip(lab, o), MESH, True) for o in nodes if o != n} for n in nodes}


def _cluster_id(lab, node, cid="224.0.0.1"):
    return ctl(lab, "patch", "node", k8s(lab, node), "-p",
               '{"spec": {"bgp": {"routeReflectorClusterID": "%s"}}}' % cid)


NODES4 = ("control-plane", "worker", "worker2", "worker3")


def test_mesh_to_route_reflectors_done_right_without_losing_pods(tmp_path):
    """Seed 000 in the right order: reflector labelled and given its cluster ID, peers to it,
    mesh off last, a second reflector added; pods stay reachable and lab.test passes."""
    lab = fresh_lab("calico-fullmesh", "t-live-rr", tmp_path)
    try:
        wait_tables(lab, mesh_tables(lab, NODES4))
        others = ("control-plane", "worker2", "worker3")
        out = ctl(lab, "label", "nodes", k8s(lab, "worker"), "route-reflector=true")
        assert "no node's configuration changed" in out
        wait_tables(lab, mesh_tables(lab, NODES4))
        # Cluster ID first: worker leaves the mesh at once (lint says so) ...
        out = _cluster_id(lab, "worker")
        assert "leaves the mesh at once" in out and "worker: reloaded: -Mesh_" in out
        wait_tables(lab, {"worker": set(), **mesh_tables(lab, others)})
        # ... and the peers to it bring it back as their reflector.
        ctl(lab, "apply", "-f", "-", stdin=RR_PEER)
        rr = ip(lab, "worker")
        expected = {"worker": {(ip(lab, o), NODE, True) for o in others}}
        for n in others:
            expected[n] = {(ip(lab, o), MESH, True) for o in others if o != n} | {(rr, NODE, True)}
        wait_tables(lab, expected)
        checks_pass(lab, ["routes", "connectivity"])
        # Mesh off last: every client keeps the reflector only; remote blocks via their owners.
        ctl(lab, "patch", "bgpconfiguration", "default", "-p", '{"spec": {"nodeToNodeMeshEnabled": false}}')
        for n in others:
            expected[n] = {(rr, NODE, True)}
        wait_tables(lab, expected)
        wait_routes(lab, "control-plane", {block_of(lab, "worker3"): frozenset({ip(lab, "worker3")}),
                                           block_of(lab, "worker"): frozenset({rr})})
        checks_pass(lab, ["routes", "connectivity"])
        # A second reflector: the two peer with each other (same cluster ID: plain iBGP).
        ctl(lab, "label", "nodes", k8s(lab, "worker2"), "route-reflector=true")
        _cluster_id(lab, "worker2")
        rr2 = ip(lab, "worker2")
        expected = {"worker": {(ip(lab, o), NODE, True) for o in others},
                    "worker2": {(ip(lab, o), NODE, True) for o in ("control-plane", "worker", "worker3")},
                    "control-plane": {(rr, NODE, True), (rr2, NODE, True)},
                    "worker3": {(rr, NODE, True), (rr2, NODE, True)}}
        wait_tables(lab, expected)
        wait_routes(lab, "worker3", {block_of(lab, "control-plane"): frozenset({ip(lab, "control-plane")})})
        checks_pass(lab, ["bgp-sessions", "routes", "connectivity"])
    finally:
        lab.down(quiet())


def test_mesh_off_first_then_reflector_without_cluster_id_reflects_nothing(tmp_path):
    """Seed 000 as written: mesh off (with an AS and serviceClusterIPs), label, BGPPeer; nobody
    sets routeReflectorClusterID, so the 'reflector' reflects nothing: clients learn only its
    blocks. Setting the cluster ID heals it."""
    lab = fresh_lab("calico-fullmesh", "t-live-wrong", tmp_path)
    try:
        conf = textwrap.dedent("""\
            apiVersion: projectcalico.org/v3
            kind: BGPConfiguration
            metadata: {name: default}
            spec:
              logSeverityScreen: Info
              nodeToNodeMeshEnabled: false
              asNumber: 65009
              serviceClusterIPs: [{cidr: 10.96.0.0/12}]
            """)
        ctl(lab, "apply", "-f", "-", stdin=conf)
        wait_tables(lab, {n: set() for n in NODES4})
        wait_routes(lab, "worker2", {block_of(lab, n): None for n in NODES4 if n != "worker2"})
        nodes = [line.split() for line in ctl(lab, "get", "nodes", "-o", "wide").splitlines()]
        assert [k8s(lab, "worker"), "(65009)", "10.2.0.11/24"] in nodes
        ctl(lab, "label", "nodes", k8s(lab, "worker"), "route-reflector=true")
        out = ctl(lab, "apply", "-f", "-", stdin=RR_PEER)
        assert "no node has a routeReflectorClusterID" in out
        rr = ip(lab, "worker")
        others = ("control-plane", "worker2", "worker3")
        wait_tables(lab, {"worker": {(ip(lab, o), NODE, True) for o in others},
                          **{n: {(rr, NODE, True)} for n in others}})
        # Not reflected: worker2 learns the reflector's own block and nobody else's.
        wait_routes(lab, "worker2", {block_of(lab, "worker"): frozenset({rr}),
                                     block_of(lab, "control-plane"): None, block_of(lab, "worker3"): None})
        # The cluster ID now restarts the reflector's sessions (rr client changes them); both ends
        # of a Node_ session connect (Calico makes only mesh sessions passive), so BIRD may take
        # its error wait (5 s, growing to 30 s) before they are back: a real cluster does the same.
        _cluster_id(lab, "worker")
        wait_routes(lab, "worker2", {block_of(lab, "control-plane"): frozenset({ip(lab, "control-plane")}),
                                     block_of(lab, "worker3"): frozenset({ip(lab, "worker3")})}, deadline=75)
        checks_pass(lab, ["bgp-sessions", "routes", "connectivity"])
    finally:
        lab.down(quiet())


def test_three_reflectors_of_five_nodes(tmp_path):
    """Seed 004: three nodes labelled with a cluster ID while the mesh is on (they drop out of
    it at once), peer-to-rrs, rrs-to-rrs, then mesh off with AS 64512: a non-reflector ends with
    three node specific peers."""
    lab = fresh_lab(str(DATA / "live-mesh5.yaml"), "t-live-3rr", tmp_path)
    rrs, clients = ("worker", "worker2", "worker3"), ("control-plane", "worker4")
    try:
        for n in rrs:
            ctl(lab, "label", "nodes", k8s(lab, n), "calico-route-reflector=")
            _cluster_id(lab, n)
        wait_tables(lab, {**{n: set() for n in rrs}, **mesh_tables(lab, clients)})
        peers = textwrap.dedent("""\
            apiVersion: projectcalico.org/v3
            kind: BGPPeer
            metadata: {name: peer-to-rrs}
            spec: {nodeSelector: "!has(calico-route-reflector)", peerSelector: has(calico-route-reflector)}
            ---
            apiVersion: projectcalico.org/v3
            kind: BGPPeer
            metadata: {name: rrs-to-rrs}
            spec: {nodeSelector: has(calico-route-reflector), peerSelector: has(calico-route-reflector)}
            """)
        ctl(lab, "apply", "-f", "-", stdin=peers)
        expected = {n: {(ip(lab, o), NODE, True) for o in rrs + clients if o != n} for n in rrs}
        expected.update({n: {(ip(lab, o), MESH, True) for o in clients if o != n} |
                         {(ip(lab, r), NODE, True) for r in rrs} for n in clients})
        wait_tables(lab, expected)
        ctl(lab, "patch", "bgpconfiguration", "default", "-p",
            '{"spec": {"nodeToNodeMeshEnabled": false, "asNumber": 64512}}')
        expected.update({n: {(ip(lab, r), NODE, True) for r in rrs} for n in clients})
        wait_tables(lab, expected)
        wait_routes(lab, "worker4", {block_of(lab, "control-plane"): frozenset({ip(lab, "control-plane")})})
        checks_pass(lab, ["bgp-sessions", "routes", "connectivity"])
    finally:
        lab.down(quiet())


def _seconds(since: str) -> int:
    """BIRD's SINCE of today (HH:MM:SS) in seconds."""
    hours, minutes, seconds = (int(x) for x in since.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def test_bgp_reference_procedures_and_untouched_sessions_keep_their_since(tmp_path):
    """Calico's BGP how-to on a running mesh: get/create/replace BGPConfiguration default, a
    global peer and a node-specific peer that do not answer (mixed types and states in the
    status tables), deleted again. BIRD's `configure` keeps the mesh sessions: same SINCE."""
    lab = fresh_lab("calico-fullmesh", "t-live-ops", tmp_path)
    try:
        wait_tables(lab, mesh_tables(lab, NODES4))
        # BIRD 1.x shows SINCE as wall-clock seconds computed from its whole-second monotonic
        # clock, so one event can read a second apart from one look to the next (each lab BIRD
        # has its own clock phase: timens.py). A restart after this sleep reads >= 2 s later.
        time.sleep(3)
        since = {r.peer_address: _seconds(r.since) for r in
                 parse_birdc_protocols(lab.access().birdc("worker", "show protocols"))}
        assert "MESHENABLED" in ctl(lab, "get", "bgpconfig")
        conf = ctl(lab, "get", "bgpconfig", "default", "-o", "yaml")
        with pytest.raises(Exception, match="already exists"):
            ctl(lab, "create", "-f", "-", stdin=conf)
        assert "Successfully replaced 1 'BGPConfiguration'" in ctl(
            lab, "replace", "-f", "-", stdin=conf.replace("logSeverityScreen: Info", "logSeverityScreen: Warning"))
        glob = textwrap.dedent("""\
            apiVersion: projectcalico.org/v3
            kind: BGPPeer
            metadata: {name: my-global-peer}
            spec: {peerIP: 10.2.0.99, asNumber: 64567}
            """)
        ctl(lab, "apply", "-f", "-", stdin=glob)
        expected = mesh_tables(lab, NODES4)
        for n in NODES4:
            expected[n] = expected[n] | {("10.2.0.99", GLOBAL, False)}
        wait_tables(lab, expected, deadline=10)
        state = {r.peer_address: r.state for r in parse_birdc_protocols(lab.access().birdc("worker", "show protocols"))}
        assert state["10.2.0.99"] in ("start", "Connect", "Active")
        after = {r.peer_address: _seconds(r.since) for r in
                 parse_birdc_protocols(lab.access().birdc("worker", "show protocols"))}
        shift = {p: (after[p] - since[p] + 43200) % 86400 - 43200 for p in since}  # across midnight too
        moved = {p: d for p, d in shift.items() if abs(d) > 1}
        assert not moved, f"a mesh session was restarted by an unrelated change: SINCE moved by {moved} s"
        node_peer = textwrap.dedent(f"""\
            apiVersion: projectcalico.org/v3
            kind: BGPPeer
            metadata: {{name: rack1-tor}}
            spec: {{node: {k8s(lab, 'worker3')}, peerIP: 10.2.0.98, asNumber: 64568}}
            """)
        ctl(lab, "apply", "-f", "-", stdin=node_peer)
        expected["worker3"] = expected["worker3"] | {("10.2.0.98", NODE, False)}
        wait_tables(lab, expected, deadline=10)
        peers = ctl(lab, "get", "bgppeer", "-o", "wide").splitlines()
        assert [p.split() for p in peers[1:]] == [["my-global-peer", "10.2.0.99", "(global)", "64567"],
                                                  ["rack1-tor", "10.2.0.98", k8s(lab, "worker3"), "64568"]]
        ctl(lab, "delete", "bgppeer", "my-global-peer")
        ctl(lab, "delete", "-f", "-", stdin=node_peer)
        wait_tables(lab, mesh_tables(lab, NODES4), deadline=10)
        checks_pass(lab, ["bgp-sessions", "routes", "connectivity"])
        history = lab.store().history()
        assert [h["command"].split()[:2] for h in history[1:]] == [
            ["calicoctl", "replace"], ["calicoctl", "apply"], ["calicoctl", "apply"], ["calicoctl", "delete"],
            ["calicoctl", "delete"]]
    finally:
        lab.down(quiet())


def test_ip_pool_migration_on_the_reference_lab_keeps_pods_reachable(tmp_path):
    """Seed 003 on the spine/leaf lab: add a pool, disable the old one (pods keep their
    addresses), recreate the pods (new pool), delete the old pool. Pods reachable at every
    step; the old blocks go only once their pods moved."""
    lab = fresh_lab("calico-bgp-rr", "t-live-pool", tmp_path)
    try:
        old_blocks = {n.name: block_of(lab, n.name) for n in lab.topo.cluster.nodes}
        new_pool = textwrap.dedent("""\
            apiVersion: projectcalico.org/v3
            kind: IPPool
            metadata: {name: new-pool}
            spec: {cidr: 10.245.0.0/16, blockSize: 26, ipipMode: Never, vxlanMode: Never, natOutgoing: true}
            """)
        ctl(lab, "create", "-f", "-", stdin=new_pool)
        checks_pass(lab, ["routes", "connectivity"])
        ctl(lab, "patch", "ippool", "default-ipv4-ippool", "-p", '{"spec": {"disabled": true}}')
        assert {n: block_of(lab, n) for n in old_blocks} == old_blocks  # disabled: nothing moves
        wide = ctl(lab, "get", "ippool", "-o", "wide").splitlines()
        assert wide[1].split()[5] == "true" and wide[2].split()[0] == "new-pool"
        checks_pass(lab, ["routes", "connectivity"])
        out = ctl_pods(lab, "--recreate", "--all")
        assert "recreated pod worker-pod0: 10.244." in out and "-> 10.245." in out
        for node in lab.topo.cluster.nodes:
            assert str(block_of(lab, node.name)).startswith("10.245.")
        wait_routes(lab, "worker2", {old_blocks["worker"]: None})
        checks_pass(lab, ["bgp-sessions", "routes", "connectivity"])
        ctl(lab, "delete", "ippool", "default-ipv4-ippool")
        checks_pass(lab, ["bgp-sessions", "routes", "connectivity"])
        # The arguments after `--` reach the command as the shell split them.
        assert _invoke(lab, "exec", "worker", "--", "sh", "-c", "exit 7").returncode == 7
        two = _invoke(lab, "exec", "worker", "--", "sh", "-c", "echo a; echo b")
        assert two.returncode == 0 and two.stdout == "a\nb\n"
        bgp = _invoke(lab, "exec", "leaf0", "--", "vtysh", "-c", "show ip bgp")
        assert bgp.returncode == 0 and "10.245.0." in bgp.stdout
        status = _invoke(lab, "exec", "worker", "--", "calicoctl", "node", "status")
        assert status.stdout.startswith("Calico process is running.\n\nIPv4 BGP status\n")
        assert "| 10.1.5.1     | node specific | up" in status.stdout
    finally:
        lab.down(quiet())


def ctl_pods(lab, *args) -> str:
    result = _invoke(lab, "pods", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _invoke(lab, task: str, *args: str) -> subprocess.CompletedProcess:
    argv = [str(Path(sys.executable).parent / "invoke"), f"lab.{task}", "--name", lab.lab_name]
    if "--" in args:
        split = args.index("--")
        argv[2:2] = list(args[:split])  # the task's positional target before --name
        argv += list(args[split:])
    else:
        argv += list(args)
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_calicoctl_node_status_says_when_bird_is_not_running(tmp_path):
    lab = fresh_lab("calico-fullmesh", "t-live-dead", tmp_path)
    try:
        from lab.providers.netns.state import LabState
        from lab.providers.netns import procs

        record = next(p for p in LabState(lab.state_path).processes() if p["role"] == "bird:worker2")
        procs.stop(record["pid"], record["starttime"], 5.0)
        out = _invoke(lab, "exec", "worker2", "--", "calicoctl", "node", "status")
        assert out.returncode == 1 and out.stdout == "Calico process is not running.\n"
        status = _invoke(lab, "status")
        assert "BIRD DOES NOT ANSWER" in status.stdout and "node worker3" in status.stdout
        assert status.returncode == 0
        assert table(lab, "worker")  # the others keep answering
    finally:
        lab.down(quiet())


def test_leaf_follows_a_rack_peer_removed_and_added_again_without_restarting_bgpd(tmp_path):
    """The spine/leaf lab: deleting rack1's BGPPeer takes the rack's nodes off leaf1 (bgpd is
    told, not restarted: its spine sessions keep their uptime), applying it again brings them
    back; then serviceClusterIPs patched in and the Service range on the leaves."""
    from lab.checks.observe import observe_frr_sessions

    lab = fresh_lab("calico-bgp-rr", "t-live-leaf", tmp_path)
    try:
        checks_pass(lab, ["bgp-sessions"])
        peer = ctl(lab, "get", "bgppeer", "rack1-to-leaf1", "-o", "yaml")
        bgpd_pid = _pid(lab, "bgpd:leaf1")
        out = ctl(lab, "delete", "bgppeer", "rack1-to-leaf1")
        assert "leaf1 (FRR): no neighbor 10.1.8.10; no neighbor 10.1.8.11" in out
        wait_tables(lab, {"worker2": set(), "worker3": set()})
        peers = {s.peer for s in observe_frr_sessions(lab.access(), "leaf1")}
        assert peers == {"10.1.34.2", "10.1.11.2"}  # only the spines are left
        ctl(lab, "apply", "-f", "-", stdin=peer)
        wait_tables(lab, {"worker2": {("10.1.8.1", NODE, True)}, "worker3": {("10.1.8.1", NODE, True)}})
        assert _pid(lab, "bgpd:leaf1") == bgpd_pid
        checks_pass(lab, ["bgp-sessions", "routes", "connectivity"])
        ctl(lab, "patch", "bgpconfiguration", "default", "-p", '{"spec": {"serviceClusterIPs": [{"cidr": "10.96.0.0/16"}]}}')
        routes = lab.access().exec("leaf0", ["ip", "route", "show", "10.96.0.0/16"]).stdout
        deadline = time.monotonic() + 20
        while "10.1.5.10" not in routes or "10.1.5.11" not in routes:
            assert time.monotonic() < deadline, routes
            time.sleep(0.2)
            routes = lab.access().exec("leaf0", ["ip", "route", "show", "10.96.0.0/16"]).stdout
    finally:
        lab.down(quiet())


def _pid(lab, role: str) -> int:
    from lab.providers.netns.state import LabState

    return next(p["pid"] for p in LabState(lab.state_path).processes() if p["role"] == role)


def test_mesh_off_then_an_external_route_reflector(tmp_path):
    """Seed 001: three nodes in AS 65100 with the mesh; mesh off (remote blocks vanish from
    `ip route`); a global BGPPeer to the BIRD reflector host: the routes come back, still via
    the owning node (the reflector keeps the next hop); the reflector has one session a node."""
    from lab.checks.observe import observe_bird_sessions

    lab = fresh_lab(str(DATA / "live-mesh3-rr-host.yaml"), "t-live-ext", tmp_path)
    nodes = ("control-plane", "worker", "worker2")
    try:
        wait_tables(lab, mesh_tables(lab, nodes))
        owned = {n: block_of(lab, n) for n in nodes}
        before = {owned["worker"]: frozenset({ip(lab, "worker")}), owned["worker2"]: frozenset({ip(lab, "worker2")})}
        wait_routes(lab, "control-plane", before)
        ctl(lab, "patch", "bgpconfiguration", "default", "-p", '{"spec": {"nodeToNodeMeshEnabled": false}}')
        wait_tables(lab, {n: set() for n in nodes})
        wait_routes(lab, "control-plane", {owned["worker"]: None, owned["worker2"]: None})
        rr = textwrap.dedent("""\
            apiVersion: projectcalico.org/v3
            kind: BGPPeer
            metadata: {name: external-rr}
            spec: {peerIP: 10.7.0.50, asNumber: 65100}
            """)
        out = ctl(lab, "apply", "-f", "-", stdin=rr)
        assert "rr1: reloaded" in out
        wait_tables(lab, {n: {("10.7.0.50", GLOBAL, True)} for n in nodes})
        wait_routes(lab, "control-plane", before)
        wait_routes(lab, "worker2", {owned["control-plane"]: frozenset({ip(lab, "control-plane")})})
        sessions = observe_bird_sessions(lab.access(), "rr1")
        assert sorted((s.peer, s.established) for s in sessions) == [(ip(lab, n), True) for n in nodes]
        checks_pass(lab, ["bgp-sessions", "routes", "connectivity"])
    finally:
        lab.down(quiet())
