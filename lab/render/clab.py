"""containerlab topology for a topology: VyOS routers, rack bridges, one server per kind node.

Written at the root of the lab's output directory, next to `startup-conf/` and
`bird/`: containerlab resolves the relative bind paths from the file's directory.

- Routers: `kind: linux` running the VyOS image's own init, `config.boot` bound
  in. containerlab runs nodes privileged unless told otherwise (`privileged`
  defaults to true, and containerlab before v0.78 had no such field and always
  did); VyOS needs it, and the field is left out so that older containerlab
  releases, which reject unknown fields, still read the file. ECMP L4 hashing
  is set by VyOS itself (`system ip multipath layer4-hashing`, see vyos.py).
- Every link carries `mtu: 1500` (containerlab's veths default to 9500; VyOS sets 1500
  on its fabric interfaces, see vyos.py): one MTU end to end, so no frame is dropped
  silently between a 9500-byte veth and a 1500-byte router interface.
- Rack bridges: `kind: bridge`; they must exist on the host before `containerlab
  deploy` (containerlab does not create them). The bridge-side endpoint name is
  the host-side veth name, so it is at most 15 characters and unique in the lab.
- Servers: one per Kubernetes node, sharing its kind node's network namespace
  (`network-mode: container:<kind node>`), so the link containerlab attaches to
  the server (`net0`) lands in the node itself; the server's exec lines give the
  node its fabric address and, when its rack has a leaf, a default route via it.
- External route reflectors (topology `hosts`): the BIRD 1.6 container owns the
  host's network namespace and runs BIRD with its config bound in. That image
  (Debian minbase) has no `ip` command, so a network-tools sidecar sharing the
  namespace carries the fabric link and adds the address, the same way a
  server does for a kind node.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface

import yaml

from .. import model as m
from ..errors import LabError
from .names import bridge_port, server_name
from .vyos import FABRIC_MTU

VYOS_CONFIG = "/opt/vyatta/etc/config/config.boot"
# Network tools (iproute2, ping, tcpdump) for the servers and the route-reflector sidecars.
SERVER_IMAGE = "nicolaka/netshoot:v0.11"
# BIRD 1.6.8 built from source (github.com/pierky/dockerfiles bird/1.6.8): the BIRD 1.x line
# Calico's own BIRD comes from. Runs `bird -c /etc/bird/bird.conf -d`; `birdc` uses its default socket.
RR_IMAGE = "pierky/bird:1.6.8"
RR_CONFIG = "/etc/bird/bird.conf"
SERVER_IFACE = "net0"
HOST_IFACE = "eth1"
# Hosts and routers hash ECMP on L4 (DESIGN §2); harmless where there is one path.
L4_HASHING = "sysctl -w net.ipv4.fib_multipath_hash_policy=1"


def host_sidecar_name(host: str) -> str:
    """The network-tools container that carries an external host's fabric link."""
    return f"{host}-net"


def _router(topo: m.Topology, router: m.Router) -> dict:
    return {
        "kind": "linux",
        "image": topo.vyos_image,
        "cmd": "/sbin/init",
        "binds": ["/lib/modules:/lib/modules", f"startup-conf/{router.name}-boot.cfg:{VYOS_CONFIG}"],
    }


def _tools(network_mode: str, address: IPv4Interface, iface: str, gateway: IPv4Address | None) -> dict:
    """A network-tools container in another container's namespace: fabric address, route via the leaf."""
    exec_lines = [f"ip addr add {address} dev {iface}"]
    if gateway is not None:
        exec_lines.append(f"ip route replace default via {gateway}")
    exec_lines.append(L4_HASHING)
    return {"kind": "linux", "image": SERVER_IMAGE, "network-mode": network_mode, "exec": exec_lines}


class _Nodes(dict):
    """Node map that refuses a second node of one name (e.g. a router named like a sidecar)."""

    def __setitem__(self, name: str, spec: dict) -> None:
        if name in self:
            raise LabError(f"containerlab node name '{name}' is used twice: rename the router, rack bridge or host")
        super().__setitem__(name, spec)


class _Links:
    """Link list that keeps bridge ports (host-side interface names) unique."""

    def __init__(self, port_scope: str = "") -> None:
        self.items: list[dict] = []
        self.ports: dict[str, str] = {}
        self.port_scope = port_scope

    def add(self, a: str, b: str) -> None:
        self.items.append({"endpoints": [a, b], "mtu": FABRIC_MTU})

    def to_bridge(self, member: str, bridge: str, *port_parts: str) -> None:
        # A second lab of one topology (`--name`) scopes its host-side port names, which live in
        # the host's namespace next to the first lab's.
        port = bridge_port(self.port_scope, *port_parts) if self.port_scope else bridge_port(*port_parts)
        if port in self.ports:
            raise LabError(f"bridge port name '{port}' for {member} is already used by {self.ports[port]}: "
                           "rename one of them in the topology")
        self.ports[port] = member
        self.add(member, f"{bridge}:{port}")


def clab_topology(topo: m.Topology, port_scope: str = "") -> dict:
    """`port_scope` (a short tag of the lab name) makes the host-side bridge port names the lab's own."""
    nodes = _Nodes()
    links = _Links(port_scope)
    for router in topo.routers:
        nodes[router.name] = _router(topo, router)
    for rack in topo.racks:
        nodes[rack.bridge] = {"kind": "bridge"}
    for link in topo.links:
        if link.to_bridge:
            r_end, b_end = (link.a, link.b) if link.b.is_bridge else (link.b, link.a)
            links.to_bridge(str(r_end), b_end.node, r_end.node, r_end.port)
        else:
            links.add(str(link.a), str(link.b))
    for node in topo.cluster.nodes:
        rack = topo.rack(node.rack)
        name = server_name(node.name)
        nodes[name] = _tools(f"container:{topo.cluster.k8s_name(node)}", node.ip, SERVER_IFACE, rack.gateway)
        links.to_bridge(f"{name}:{SERVER_IFACE}", rack.bridge, node.name)
    for host in topo.hosts:
        sidecar = host_sidecar_name(host.name)
        nodes[host.name] = {"kind": "linux", "image": RR_IMAGE, "binds": [f"bird/{host.name}.conf:{RR_CONFIG}"]}
        rack = topo.rack(host.rack)
        nodes[sidecar] = _tools(f"container:{host.name}", host.ip, HOST_IFACE, rack.gateway)
        links.to_bridge(f"{sidecar}:{HOST_IFACE}", rack.bridge, host.name)
    return {"name": topo.name, "topology": {"nodes": dict(nodes), "links": links.items}}


def render_clab(topo: m.Topology, port_scope: str = "") -> str:
    header = (f"# containerlab topology for lab '{topo.name}' (generated by fabriclab).\n"
              "# Create the rack bridges first; then: containerlab deploy -t <this file>\n")
    return header + yaml.safe_dump(clab_topology(topo, port_scope), sort_keys=False)
