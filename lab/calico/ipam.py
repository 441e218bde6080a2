"""A deterministic stand-in for Calico's IPAM: one block per node, pods from it.

Calico hands out blocks on demand; the lab needs the same answer every run, so
nodes are taken in name order and each gets the lowest free block of the first
enabled pool (document order) whose nodeSelector matches it. Disabled pools
give no new blocks; `disableBGPExport` blocks are owned but not advertised.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, ip_network
from types import MappingProxyType
from typing import Mapping

from ..errors import LabError
from .resources import ResourceSet
from .selector import parse_selector


@dataclass(frozen=True)
class Block:
    cidr: str
    pool: str
    node: str
    export: bool


@dataclass(frozen=True)
class IpamPlan:
    blocks: Mapping[str, tuple[Block, ...]]

    def pod_ips(self, node: str, count: int) -> tuple[str, ...]:
        ips: list[str] = []
        for block in self.blocks.get(node, ()):
            # Skip the block's first address: never handed to a pod in the lab.
            hosts = list(ip_network(block.cidr).hosts()) if ip_network(block.cidr).prefixlen < 31 else list(ip_network(block.cidr))
            ips += [str(ip) for ip in hosts[: count - len(ips)]]
            if len(ips) >= count:
                break
        if len(ips) < count:
            raise LabError(f"node {node} has room for {len(ips)} pods, {count} wanted (no block or block too small)")
        return tuple(ips)

    def exported(self) -> tuple[str, ...]:
        return tuple(b.cidr for blocks in self.blocks.values() for b in blocks if b.export)


def plan_ipam(rs: ResourceSet) -> IpamPlan:
    used: dict[str, set[IPv4Network]] = {p.name: set() for p in rs.ip_pools}
    blocks: dict[str, tuple[Block, ...]] = {}
    for node in sorted(rs.nodes, key=lambda n: n.name):
        for pool in rs.ip_pools:
            if pool.disabled or not parse_selector(pool.node_selector).matches(node.labels):
                continue
            free = next((b for b in IPv4Network(pool.cidr).subnets(new_prefix=pool.block_size)
                         if b not in used[pool.name]), None)
            if free is None:
                raise LabError(f"IP pool {pool.name} ({pool.cidr}) has no free /{pool.block_size} block for node {node.name}")
            used[pool.name].add(free)
            blocks[node.name] = (Block(str(free), pool.name, node.name, not pool.disable_bgp_export),)
            break
    return IpamPlan(MappingProxyType(blocks))
