"""BIRD configs of the external route-reflector hosts (`bird/<host>.conf`).

The BIRD text itself comes from the Calico model (lab.calico.bird), which also
writes every node's BIRD config; this only picks the hosts and their clients:
the Calico nodes whose planned sessions point at the host's address (whatever
BGPPeer made them), with the AS each ends up in, and the fabric's BGP timers.
"""

from __future__ import annotations

from .. import model as m
from ..calico.bird import BgpTimers, render_rr_host_bird
from ..fabric import PlanIndex, topology_plan

ROUTE_REFLECTOR = "route-reflector"


def rr_host_clients(plan: PlanIndex, host: m.Host) -> list[tuple[str, int]]:
    """(address, AS) of every Calico node planned to peer with `host`."""
    return [(address, asn) for _, address, asn in plan.clients_of(str(host.ip.ip))]


def render_rr_hosts(topo: m.Topology, plan: PlanIndex | None = None) -> dict[str, str]:
    hosts = [h for h in topo.hosts if h.role == ROUTE_REFLECTOR]
    if not hosts:
        return {}
    plan = plan if plan is not None else topology_plan(topo)
    timers = BgpTimers(hold=topo.timers.hold, keepalive=topo.timers.keepalive)
    return {f"bird/{h.name}.conf": render_rr_host_bird(h.name, str(h.ip.ip), h.asn, h.cluster_id,
                                                       rr_host_clients(plan, h), timers=timers)
            for h in hosts}
