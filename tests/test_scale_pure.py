"""Scale helpers that need no root: IPAM's free-block search and the BIRD control-socket client."""

from __future__ import annotations

import socket
import threading
from ipaddress import IPv4Network, ip_network

from hypothesis import given, settings, strategies as st

from lab import birdctl
from lab.calico.ipam_state import BlockAlloc, _Taken


def _brute_free(pool: str, size: int, taken: list[str]) -> list[IPv4Network]:
    nets = [ip_network(t) for t in taken]
    return [c for c in ip_network(pool).subnets(new_prefix=size) if not any(c.overlaps(t) for t in nets)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.sampled_from([24, 25, 26, 27, 28])), max_size=25),
       st.sampled_from([24, 26, 28]))
def test_free_blocks_are_exactly_those_that_overlap_no_taken_block(raw, size):
    # Taken blocks of mixed sizes inside and around a /20 pool (aligned, as Calico blocks are).
    taken = []
    for third, prefix in raw:
        net = ip_network(f"10.0.{third}.0/{prefix}", strict=False)
        taken.append(str(net))
    pool = "10.0.0.0/20"
    found = list(_Taken([BlockAlloc(t, "p", "n") for t in taken]).free_blocks(pool, size))
    assert found == _brute_free(pool, size, taken)


def test_free_blocks_of_a_block_size_shorter_than_the_pool_is_none():
    assert list(_Taken([]).free_blocks("10.0.0.0/24", 20)) == []


def test_birdc_rendering_of_reply_lines():
    lines = ["0001 BIRD 1.6.8 ready.", "2002-name     proto    table    state  since       info",
             "1002-static1  Static   master   up     12:00:00", " continued line",
             "+async notice", "0000 "]
    assert birdctl.format_reply(lines) == ("BIRD 1.6.8 ready.\nname     proto    table    state  since       info\n"
                                           "static1  Static   master   up     12:00:00\ncontinued line\n"
                                           ">>> async notice\n")
    assert birdctl.format_reply(["8003 No protocols match"]) == "No protocols match\n"
    assert birdctl.format_reply(["garbage"]) == "??? <garbage>\n"
    assert birdctl.complete(["1002-x", "0000"]) and birdctl.complete(["0013 Daemon is up"])
    assert not birdctl.complete(["1002-x"]) and not birdctl.complete([" cont"]) and not birdctl.complete([])


def _fake_bird(path, answers: dict[str, list[str]], close_early: bool = False):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"0001 BIRD 1.6.8 ready.\n")
            command = conn.makefile("r").readline().strip()
            lines = answers[command]
            if close_early:
                lines = lines[:-1]
            conn.sendall("".join(line + "\n" for line in lines).encode())
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_command_over_a_socket_prints_what_birdc_prints(tmp_path):
    path = tmp_path / "bird.ctl"
    thread = _fake_bird(path, {"show status": ["1000-BIRD 1.6.8", "1011-Router ID is 10.0.0.1",
                                               "0013 Daemon is up and running"]})
    assert birdctl.command(path, "show status") == ("BIRD 1.6.8 ready.\nBIRD 1.6.8\nRouter ID is 10.0.0.1\n"
                                                    "Daemon is up and running\n")
    thread.join(5)


def test_a_missing_socket_or_a_cut_answer_is_a_birdctl_error(tmp_path):
    import pytest

    with pytest.raises(birdctl.BirdCtlError, match="bird.ctl"):
        birdctl.command(tmp_path / "bird.ctl", "show status", timeout=1)
    path = tmp_path / "cut.ctl"
    thread = _fake_bird(path, {"show protocols": ["2002-name", "1002-p1", "0000 "]}, close_early=True)
    with pytest.raises(birdctl.BirdCtlError, match="closed before the end"):
        birdctl.command(path, "show protocols", timeout=5)
    thread.join(5)


# -- permanent neighbour entries (lab/providers/netns/neighbours.py) -------------------------

from lab.providers.netns.blueprint import Address, build_blueprint  # noqa: E402
from lab.providers.netns.neighbours import (Neighbour, config_peers, lab_mac,  # noqa: E402
                                            plan_neighbours)


def test_lab_macs_are_unicast_locally_administered_deterministic_and_distinct():
    macs = {lab_mac("fl-x.", f"fl-x.n{i}", "eth0") for i in range(2000)}
    assert len(macs) == 2000
    assert all(m.startswith("02:") and len(m) == 17 for m in macs)
    assert lab_mac("fl-x.", "fl-x.n1", "eth0") == lab_mac("fl-x.", "fl-x.n1", "eth0")
    assert lab_mac("fl-x.", "fl-x.n1", "eth0") != lab_mac("fl-y.", "fl-x.n1", "eth0")


def test_config_peers_reads_bird_and_frr_neighbours_once_each():
    bird = "protocol bgp Mesh_10_0_0_2 from bgp_template {\n  neighbor 10.0.0.2 as 64512;\n}\n" \
           "protocol bgp Node_10_0_0_2 {\n  neighbor 10.0.0.2 port 179 as 64512;\n}\n"
    frr = "router bgp 65005\n neighbor 10.1.5.10 remote-as 65005\n neighbor 10.1.5.10 description x\n" \
          " neighbor 10.1.10.2 remote-as 500\n"
    assert config_peers(bird) == ["10.0.0.2"]
    assert config_peers(frr) == ["10.1.5.10", "10.1.10.2"]


def test_plan_neighbours_connected_owned_routed_and_unowned_peers():
    addresses = [Address("a", "eth0", "10.0.0.1/24"), Address("b", "eth0", "10.0.0.2/24"),
                 Address("a", "eth1", "10.9.0.1/30"), Address("p", "eth0", "10.244.0.1/32")]
    macs = {("a", "eth0"): "02:00:00:00:00:01", ("b", "eth0"): "02:00:00:00:00:02",
            ("a", "eth1"): "02:00:00:00:00:03"}
    entries, left = plan_neighbours(addresses, macs, {
        "a": ["10.0.0.2", "10.0.0.2", "192.168.1.1"],  # owned peer (twice), a routed (multihop) one
        "b": ["10.0.0.1", "10.0.0.77"],  # owned, and an address no lab interface has
        "p": ["10.244.0.9"]})
    assert entries == [Neighbour("a", "eth0", "10.0.0.2", "02:00:00:00:00:02"),
                       Neighbour("b", "eth0", "10.0.0.1", "02:00:00:00:00:01")]
    assert left == [("b", "10.0.0.77")]


def test_shipped_topologies_need_no_dynamic_entry_for_sessions():
    from lab.loader import load_topology

    for name in ("calico-bgp-rr", "calico-rr-external", "calico-fullmesh", "calico-rr-rack", "calico-rr-pair"):
        bp = build_blueprint(load_topology(name))
        assert bp.neighbours and not bp.dynamic_neighbours, name
        # Every speaker has an entry for each peer in its config that a lab interface owns.
        owned = {a.cidr.split("/")[0] for a in bp.addresses}
        have = {(n.ns, n.ip) for n in bp.neighbours}
        for d in bp.bird:
            for peer in config_peers(d.config):
                if peer in owned:
                    assert (d.ns, peer) in have, (name, d.target, peer)


# -- parallel start and per-speaker waits (lab/providers/netns/startup.py) --------------------

from lab.providers.netns import startup  # noqa: E402


def test_wait_sessions_asks_a_settled_speaker_no_more_and_reports_the_unsettled():
    asked: list[str] = []
    ready_after = {"a": 1, "b": 3, "c": 99}
    rounds = {"a": 0, "b": 0, "c": 0}

    def settled(target):
        asked.append(target)
        rounds[target] += 1
        return rounds[target] >= ready_after[target]

    now = [0.0]
    left = startup.wait_sessions(["a", "b", "c", "a"], settled, deadline=5.0, clock=lambda: now[0],
                                 wait=lambda s: now.__setitem__(0, now[0] + 1.0))
    assert left == ["c"]
    assert asked.count("a") == 1 and asked.count("b") == 3 and asked.count("c") == 6


def test_wait_sessions_waits_at_least_as_long_as_the_last_round_took():
    now, waits = [0.0], []

    def settled(target):
        now[0] += {"slow": 0.4, "fast": 0.01}[target]  # the time asking takes
        return False

    def wait(seconds):
        waits.append(round(seconds, 3))
        now[0] += seconds

    startup.wait_sessions(["slow", "fast"], settled, deadline=3.0, interval=0.05, clock=lambda: now[0], wait=wait)
    assert waits and all(w == 0.41 for w in waits)
    waits.clear()
    now[0] = 0.0
    startup.wait_sessions(["fast"], settled, deadline=0.5, interval=0.05, clock=lambda: now[0], wait=wait)
    assert waits and all(w == 0.05 for w in waits)


def test_the_short_protocol_list_is_enough_to_wait_on_calico_sessions():
    from lab.checks.observe import parse_bird_protocols_all
    from lab.checks.sessions import compare
    from lab.expect import ExpectedSession

    short = """BIRD 1.6.8 ready.
name     proto    table    state  since       info
static1  Static   master   up     16:32:09
kernel1  Kernel   master   up     16:32:09
Node_10_8_0_11 BGP      master   up     16:32:11    Established
Node_10_8_1_124 BGP      master   start  16:32:09    Passive
"""
    observed = parse_bird_protocols_all(short)
    assert [(o.peer, o.state, o.name) for o in observed] == [
        ("10.8.0.11", "Established", "Node_10_8_0_11"), ("10.8.1.124", "Passive", "Node_10_8_1_124")]

    def want(peer):
        return ExpectedSession("rr", peer, 64512, "bird", protocol="Node_" + peer.replace(".", "_"),
                               peer_type="node specific")
    assert compare([want("10.8.0.11")], {"rr": observed[:1]}) == []
    assert compare([want("10.8.0.11"), want("10.8.1.124")], {"rr": observed}) == [
        "rr: Node_10_8_1_124 (node specific) to 10.8.1.124 is Passive"]


def test_in_parallel_runs_every_item_and_raises_the_first_error_after_all_ran():
    import pytest

    done: list[int] = []

    def action(i):
        done.append(i)
        if i in (3, 7):
            raise RuntimeError(f"item {i}")

    with pytest.raises(RuntimeError, match="item 3"):
        startup.in_parallel(list(range(10)), action)
    assert sorted(done) == list(range(10))
    startup.in_parallel([1], done.append)
    assert done[-1] == 1


# -- the lab choice calico.lab_passive_reflectors ----------------------------------------------

def _rr_topology(tmp_path, passive: str | None):
    from lab.loader import load_topology

    extra = f"  lab_passive_reflectors: {passive}\n" if passive is not None else ""
    path = tmp_path / "t.yaml"
    path.write_text("name: t\nracks:\n  rack0: {bridge: br-rack0, subnet: 10.8.0.0/24, nodes: 6}\n"
                    "cluster:\n  pod_subnet: 10.244.0.0/16\ncalico:\n  peering: route-reflectors\n" + extra +
                    "  route_reflectors:\n    nodes: [control-plane, worker]\n    cluster_id: 224.0.0.1\n")
    return load_topology(path)


def test_passive_reflectors_make_only_the_reflector_end_of_client_sessions_passive(tmp_path):
    plain = build_blueprint(_rr_topology(tmp_path, None))
    assert all("passive on" not in d.config for d in plain.bird)  # Calico's own rendering by default
    bp = build_blueprint(_rr_topology(tmp_path, "true"))
    by_node = {d.target: d.config for d in bp.bird}
    for rr in ("control-plane", "worker"):
        assert by_node[rr].count("passive on") == 4  # its four clients connect to it
    for client in set(by_node) - {"control-plane", "worker"}:
        assert "passive on" not in by_node[client]
    # Only `passive` differs from Calico's plan: same sessions, same peers.
    assert {k: [(s.peer_address, s.protocol) for s in v] for k, v in bp.sessions.items()} == \
           {k: [(s.peer_address, s.protocol) for s in v] for k, v in plain.sessions.items()}


def test_passive_reflectors_must_be_a_boolean(tmp_path):
    import pytest

    from lab.errors import LabError

    with pytest.raises(LabError, match="lab_passive_reflectors"):
        _rr_topology(tmp_path, "'yes please'")


def test_big_labs_start_the_fabric_before_the_nodes():
    assert startup.daemon_order("bird", "frr", 4) == ["bird", "frr"]
    assert startup.daemon_order("bird", "frr", startup.BIRD_FIRST_UP_TO) == ["bird", "frr"]
    assert startup.daemon_order("bird", "frr", startup.BIRD_FIRST_UP_TO + 1) == ["frr", "bird"]
