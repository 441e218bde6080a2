"""Faults, pure parts: endpoint/number parsing and what a link's `up` restores (from a real blueprint)."""

from __future__ import annotations

import pytest

from lab.errors import LabError
from lab.faults import netem_numbers, parse_endpoint, parse_state, restore_plan, stopped_targets
from lab.loader import load_topology
from lab.providers.netns.blueprint import build_blueprint


def test_endpoint_and_state():
    assert parse_endpoint("leaf0:eth1") == ("leaf0", "eth1")
    for bad in ("leaf0", ":eth1", "leaf0:", "a:b:c"):
        with pytest.raises(LabError, match="TARGET:IFACE"):
            parse_endpoint(bad)
    assert parse_state("up") and not parse_state("down")
    with pytest.raises(LabError):
        parse_state("flap")


@pytest.mark.parametrize("args, problem", [(("x", 0, 0), "not a number"), ((-1, 0, 0), "out of range"),
                                           ((10, 0, 101), "out of range"), ((10, 20, 0), "larger than the delay"),
                                           ((0, 0, 0), "needs a delay or a loss")])
def test_netem_numbers_refused(args, problem):
    with pytest.raises(LabError, match=problem):
        netem_numbers(*args)


def test_netem_numbers():
    assert netem_numbers("50", 5, 1.5) == (50.0, 5.0, 1.5)
    assert netem_numbers(None, None, 10) == (0.0, 0.0, 10.0)


def test_restore_plan_reference_lab():
    bp = build_blueprint(load_topology("calico-bgp-rr"), "t")
    node = restore_plan(bp, bp.netns_of("worker"), "eth0")
    assert [(r.dst, r.gateway) for r in node.routes] == [("default", "10.1.5.1")]
    assert [a.cidr for a in node.addresses] == ["10.1.5.11/24"]
    pod = restore_plan(bp, bp.netns_of("worker-pod0"), "eth0")
    # The scope-link route to 169.254.1.1 first: the default route needs it.
    assert [r.dst for r in pod.routes] == ["169.254.1.1/32", "default"]
    cali = next(p.cali for p in bp.pods if p.name == "worker-pod0")
    side = restore_plan(bp, bp.netns_of("worker"), cali)
    assert [r.dev for r in side.routes] == [cali]
    assert dict(side.sysctls) == {f"net.ipv4.conf.{cali}.proxy_arp": "1", f"net.ipv4.neigh.{cali}.proxy_delay": "0"}
    assert restore_plan(bp, bp.netns_of("leaf0"), "eth1").routes == ()


def test_restore_plan_node_without_gateway():
    bp = build_blueprint(load_topology("calico-fullmesh"), "t")
    plan = restore_plan(bp, bp.netns_of("worker"), "eth0")
    assert [(r.dst, r.dev, r.scope_link) for r in plan.routes] == [("169.254.1.1/32", "eth0", True)]


def test_stopped_targets():
    objects = [{"kind": "netns", "name": "x"},
               {"kind": "process", "role": "zebra:leaf0", "pid": 1, "stopped": True},
               {"kind": "process", "role": "bgpd:leaf0", "pid": 2, "stopped": True},
               {"kind": "process", "role": "bird:worker", "pid": 3},
               {"kind": "process", "role": "traffic-probe:worker-pod0", "pid": 4, "stopped": True}]
    assert stopped_targets(objects) == ["leaf0"]
    assert stopped_targets(objects, alive=lambda o: o["pid"] != 3) == ["leaf0", "worker"]


class _NoNetemKernel:
    """An IPRoute stand-in that answers `tc add netem` as a kernel without sch_netem does (ENOENT)."""

    def __init__(self):
        self.calls = []

    def tc(self, command, kind=None, index=None, **options):
        from pyroute2.netlink.exceptions import NetlinkError

        self.calls.append((command, kind))
        raise NetlinkError(2, "No such file or directory")


def test_netem_on_a_kernel_without_sch_netem_is_one_clear_line(monkeypatch):
    from types import SimpleNamespace

    from lab import faults
    from lab.providers.netns import netlink

    kernel = _NoNetemKernel()
    monkeypatch.setattr(netlink, "handle", lambda ns: kernel)
    monkeypatch.setattr(netlink, "index", lambda ns, ifname: 7)
    monkeypatch.setattr(faults, "_iface", lambda lab, target, iface: "fl-x-worker")
    with pytest.raises(LabError) as err:
        faults.netem(SimpleNamespace(), "worker", "eth0", delay_ms=20)
    message = str(err.value)
    assert message.startswith("netem on worker:eth0: this kernel has no netem qdisc (sch_netem)")
    assert "\n" not in message and "CONFIG_NET_SCH_NETEM" in message
    assert kernel.calls == [("del", None), ("add", "netem")]  # the old root qdisc cleared, then the add refused
