"""The live bgpd delta: vtysh commands from one rendered config to another, and back."""

from __future__ import annotations

import pytest

from lab.loader import load_topology
from lab.providers.netns.frr_delta import NotLive, _parse, bgpd_delta
from lab.render.frr import render_frr


def _leaf0() -> str:
    topo = load_topology("calico-bgp-rr")
    return render_frr(topo, topo.router("leaf0")).bgpd


def _drop_neighbour(text: str, peer: str) -> str:
    return "\n".join(line for line in text.splitlines() if f"neighbor {peer} " not in line) + "\n"


def test_equal_configs_need_nothing():
    assert bgpd_delta(_leaf0(), _leaf0()) == []


def test_a_neighbour_that_goes_is_removed_with_one_command():
    old = _leaf0()
    new = _drop_neighbour(old, "10.1.5.11")
    assert bgpd_delta(old, new) == ["configure terminal", "router bgp 65005", "no neighbor 10.1.5.11", "end"]


def test_a_neighbour_that_comes_gets_all_its_lines_in_both_blocks():
    new = _leaf0()
    old = _drop_neighbour(new, "10.1.5.11")
    cmds = bgpd_delta(old, new)
    assert cmds[:2] == ["configure terminal", "router bgp 65005"]
    assert "neighbor 10.1.5.11 remote-as 65005" in cmds and "neighbor 10.1.5.11 passive" in cmds
    family = cmds[cmds.index("address-family ipv4 unicast"):]
    assert family == ["address-family ipv4 unicast", "neighbor 10.1.5.11 route-reflector-client",
                      "neighbor 10.1.5.11 next-hop-self", "exit-address-family", "end"]


def test_a_changed_neighbour_is_reset_then_written_again():
    old = _leaf0()
    new = old.replace("neighbor 10.1.5.11 remote-as 65005", "neighbor 10.1.5.11 remote-as 65099")
    cmds = bgpd_delta(old, new)
    assert cmds.index("no neighbor 10.1.5.11") < cmds.index("neighbor 10.1.5.11 remote-as 65099")


def test_other_lines_are_negated_or_added():
    old = _leaf0()
    new = old.replace("  network 10.1.5.0/24\n", "  network 10.1.6.0/24\n")
    cmds = bgpd_delta(old, new)
    assert "no network 10.1.5.0/24" in cmds and "network 10.1.6.0/24" in cmds


def test_applying_the_delta_model_gives_the_new_config():
    """Replaying the commands on the parsed old config yields the parsed new one."""
    old = _leaf0()
    new = _drop_neighbour(old, "10.1.5.10").replace("coalesce-time 100", "coalesce-time 200")
    a, b = _parse(old), _parse(new)
    router, family, block = list(a.router), list(a.family), None
    for cmd in bgpd_delta(old, new):
        if cmd in ("configure terminal", f"router bgp {a.asn}", "end"):
            block = router if cmd.startswith("router") else block
            continue
        if cmd == "address-family ipv4 unicast":
            block = family
            continue
        if cmd == "exit-address-family":
            block = router
            continue
        if cmd.startswith("no neighbor ") and len(cmd.split()) == 3:
            peer = cmd.split()[2]
            router[:] = [line for line in router if not line.startswith(f"neighbor {peer} ")]
            family[:] = [line for line in family if not line.startswith(f"neighbor {peer} ")]
        elif cmd.startswith("no "):
            block.remove(cmd[3:])
        else:
            block.append(cmd)
    assert sorted(router) == sorted(b.router) and sorted(family) == sorted(b.family)


def test_another_as_cannot_be_applied_live():
    old = _leaf0()
    with pytest.raises(NotLive):
        bgpd_delta(old, old.replace("router bgp 65005", "router bgp 65006"))
