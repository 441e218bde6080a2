"""FRR configuration for a fabric router (used by the netns provider).

The routing behaviour is the reference lab's VyOS behaviour (VyOS's routing
engine is FRR), rendered from the same `lab.fabric` intent as the VyOS configs.
Each daemon gets its own file because zebra and bgpd each reject the other's
commands; `integrated` is the single-file form a user feeds to vtysh.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import model as m
from ..fabric import PlanIndex, RouterBgp, router_bgp


@dataclass(frozen=True)
class FrrConfig:
    router: str
    zebra: str
    bgpd: str

    @property
    def integrated(self) -> str:
        bgpd_body = self.bgpd.split("!\n", 1)[1]  # drop bgpd's own header (hostname/defaults)
        return self.zebra + bgpd_body


def render_frr(topo: m.Topology, router: m.Router, plan: PlanIndex | None = None) -> FrrConfig:
    """`plan`: the Calico plan in force (default: the topology's own resources)."""
    intent = router_bgp(topo, router, plan)
    header = f"frr version 8.4\nfrr defaults traditional\nhostname {router.name}\nlog stdout informational\n!\n"
    # Kernel nexthop groups: after a link flap FRR 8.4 can leave a dead member out of the
    # kernel's group for good (ECMP never comes back); plain multipath routes do not.
    zebra = header + "no zebra nexthop kernel enable\n!\n"
    return FrrConfig(router.name, zebra, header + _bgpd(intent))


def _bgpd(bgp: RouterBgp) -> str:
    lines = [
        f"router bgp {bgp.asn}",
        f" bgp router-id {bgp.router_id}",
        # FRR 8.4 exchanges nothing over eBGP without a policy; the lab announces everything.
        " no bgp ebgp-requires-policy",
        " no bgp network import-check",
        " bgp log-neighbor-changes",
        # Send updates 100 ms after a change instead of FRR's 1 s: a lab converges in seconds.
        " coalesce-time 100",
    ]
    if bgp.multipath_relax:
        # The spines sit in different ASes: paths via each differ in AS path, which
        # plain multipath refuses to treat as equal.
        lines.append(" bgp bestpath as-path multipath-relax")
    lines.append(f" timers bgp {bgp.timers.keepalive} {bgp.timers.hold}")
    for n in bgp.neighbors:
        lines.append(f" neighbor {n.address} remote-as {n.remote_as}")
        lines.append(f" neighbor {n.address} description {n.description}")
        # Retry a refused connection after 1 s instead of FRR's 120 s.
        lines.append(f" neighbor {n.address} timers connect 1")
        if n.passive:
            lines.append(f" neighbor {n.address} passive")
    lines.append(" !")
    lines.append(" address-family ipv4 unicast")
    for net in bgp.networks:
        lines.append(f"  network {net}")
    for n in bgp.neighbors:
        if n.rr_client:
            lines.append(f"  neighbor {n.address} route-reflector-client")
        if n.next_hop_self:
            lines.append(f"  neighbor {n.address} next-hop-self")
    lines.append(f"  maximum-paths {bgp.maximum_paths}")
    lines.append(f"  maximum-paths ibgp {bgp.maximum_paths}")
    lines.append(" exit-address-family")
    lines.append("exit")
    lines.append("!")
    return "\n".join(lines) + "\n"
