"""BIRD configs of the external route-reflector hosts (`bird/<host>.conf`).

The BIRD text itself comes from the Calico model (lab.calico.bird), which also
writes every node's BIRD config; this only picks the hosts and their clients:
every cluster node, with the AS it ends up in, and the fabric's BGP timers.
"""

from __future__ import annotations

from .. import model as m
from ..calico.bird import BgpTimers, render_rr_host_bird

ROUTE_REFLECTOR = "route-reflector"


def render_rr_hosts(topo: m.Topology) -> dict[str, str]:
    timers = BgpTimers(hold=topo.timers.hold, keepalive=topo.timers.keepalive)
    clients = [(str(n.ip.ip), topo.node_asn(n)) for n in topo.cluster.nodes]
    return {f"bird/{h.name}.conf": render_rr_host_bird(h.name, str(h.ip.ip), h.asn, h.cluster_id, clients, timers=timers)
            for h in topo.hosts if h.role == ROUTE_REFLECTOR}
