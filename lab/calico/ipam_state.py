"""Live IPAM: which node holds which block, and which pod holds which address.

`plan_ipam` (ipam.py) answers "which block would each node get first"; a running lab
needs more: pods come and go, pools are added, disabled and deleted, and a node keeps
a block as long as it has addresses in it. This module keeps that state as plain,
immutable values (stored in the lab's datastore) and changes it the way Calico's IPAM
does (libcalico-go lib/ipam/ipam.go):
- a pod gets the lowest free address of a block affine to its node, in a pool that is
  enabled and whose nodeSelector matches the node; only when none has room does the
  node claim the lowest free block of the first such pool (pools in datastore order);
- a disabled pool gives no new addresses, but its blocks and their pods stay (and stay
  advertised: `disabled` stops allocation, not BGP export);
- when a block's last address is released and its pool no longer allocates to that
  node (deleted, disabled, or its nodeSelector no longer matches), the block's affinity
  is released and the block goes (ipam.go `ensureConsistentAffinity`; fabriclab treats
  a disabled pool like one that no longer selects the node, so a drained block goes);
- deleting a pool releases the affinity of its blocks (clientv3/ippool.go Delete:
  disable, ReleasePoolAffinities, delete): empty blocks go at once; a block that still
  has pods loses its affinity, so no node blackholes or advertises it any more and
  those pods keep addresses nobody routes to — what a real cluster does when a pool is
  deleted before its workloads moved.
The block's first address is never handed out (a lab convention kept from ipam.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from bisect import bisect_left, insort
from ipaddress import IPv4Network, ip_network
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping

from ..errors import LabError
from .ipam import Block, IpamPlan
from .resources import IPPool, ResourceSet
from .selector import parse_selector


@dataclass(frozen=True)
class BlockAlloc:
    cidr: str
    pool: str
    node: str | None  # affine node (Calico node name); None once the affinity is released


@dataclass(frozen=True)
class PodAlloc:
    name: str
    node: str  # Calico node name
    ip: str
    block: str


@dataclass(frozen=True)
class IpamState:
    blocks: tuple[BlockAlloc, ...] = ()
    pods: tuple[PodAlloc, ...] = ()

    # -- queries -------------------------------------------------------------------------

    def block(self, cidr: str) -> BlockAlloc | None:
        return next((b for b in self.blocks if b.cidr == cidr), None)

    def affine_blocks(self, node: str) -> tuple[BlockAlloc, ...]:
        return tuple(b for b in self.blocks if b.node == node)

    def pod(self, name: str) -> PodAlloc | None:
        return next((p for p in self.pods if p.name == name), None)

    def pods_on(self, node: str) -> tuple[PodAlloc, ...]:
        return tuple(p for p in self.pods if p.node == node)

    def pods_in(self, cidr: str) -> tuple[PodAlloc, ...]:
        return tuple(p for p in self.pods if p.block == cidr)

    # -- storage -------------------------------------------------------------------------

    def as_json(self) -> dict:
        return {"blocks": [b.__dict__ for b in self.blocks], "pods": [p.__dict__ for p in self.pods]}

    @classmethod
    def from_json(cls, data: Mapping | None) -> "IpamState":
        data = data or {}
        return cls(tuple(BlockAlloc(**b) for b in data.get("blocks", ())),
                   tuple(PodAlloc(**p) for p in data.get("pods", ())))


def _allocates_to(pool: IPPool | None, labels: Mapping[str, str]) -> bool:
    return pool is not None and not pool.disabled and parse_selector(pool.node_selector).matches(labels)


@lru_cache(maxsize=65536)
def _network(cidr: str) -> IPv4Network:
    # Parsed once per block: every allocation looks at every block (ipaddress parsing is ~10 µs).
    return IPv4Network(cidr)


class _Taken:
    """The blocks in use, for "the lowest free block of a pool" in O(log n) per candidate
    (testing each candidate against every block made a 1,000-node lab's IPAM cubic).

    Blocks are aligned power-of-two ranges, so two of them overlap only if one contains the
    other: a candidate is taken if a block of some prefix length <= its own contains it (a
    set lookup per length in use) or a block starts inside it (bisect on the sorted starts).
    """

    def __init__(self, blocks: Iterable[BlockAlloc]):
        nets = [_network(b.cidr) for b in blocks]
        self.by_length: dict[int, set[int]] = {}
        for net in nets:
            self.by_length.setdefault(net.prefixlen, set()).add(int(net.network_address))
        self.starts = sorted(int(net.network_address) for net in nets)
        # Per (pool, block size): where the last search found a free block. Blocks are only
        # ever added to a _Taken, so nothing below it becomes free again: a search resumes there.
        self.resume: dict[tuple[str, int], int] = {}

    def add(self, net: IPv4Network) -> None:
        self.by_length.setdefault(net.prefixlen, set()).add(int(net.network_address))
        insort(self.starts, int(net.network_address))

    def overlaps(self, start: int, prefixlen: int) -> bool:
        for length, starts in self.by_length.items():
            if length <= prefixlen and (start >> (32 - length)) << (32 - length) in starts:
                return True
        i = bisect_left(self.starts, start)
        return i < len(self.starts) and self.starts[i] < start + (1 << (32 - prefixlen))

    def free_blocks(self, pool_cidr: str, block_size: int) -> Iterator[IPv4Network]:
        pool = ip_network(pool_cidr)
        if block_size < pool.prefixlen:
            return
        step = 1 << (32 - block_size)
        first = int(pool.network_address)
        key = (pool_cidr, block_size)
        for start in range(self.resume.get(key, first), first + pool.num_addresses, step):
            if not self.overlaps(start, block_size):
                self.resume[key] = start
                yield IPv4Network((start, block_size))


def _first_free(block: str, used: set[str]) -> str | None:
    net = ip_network(block)
    first = net.network_address
    for offset in range(1, net.num_addresses):
        candidate = str(first + offset)
        if candidate not in used:
            return candidate
    return None


def allocate(state: IpamState, rs: ResourceSet, node: str, pod: str, taken: "_Taken | None" = None) -> IpamState:
    """Give `pod` on `node` an address, claiming a block if the node has no room.

    `taken`: the blocks of `state` as a `_Taken`, kept by a caller that allocates many pods in
    a row (`initial_state`); a claimed block is added to it."""
    existing = state.pod(pod)
    if existing is not None:
        raise LabError(f"pod {pod} already has an address ({existing.ip})")
    labels = rs.node(node).labels
    pools = {p.name: p for p in rs.ip_pools}
    used = {p.ip for p in state.pods}
    for block in state.affine_blocks(node):
        if _allocates_to(pools.get(block.pool), labels):
            ip = _first_free(block.cidr, used)
            if ip is not None:
                return replace(state, pods=state.pods + (PodAlloc(pod, node, ip, block.cidr),))
    taken = taken if taken is not None else _Taken(state.blocks)
    for pool in rs.ip_pools:
        if not _allocates_to(pool, labels):
            continue
        for candidate in taken.free_blocks(pool.cidr, pool.block_size):
            cidr = str(candidate)
            ip = _first_free(cidr, used)
            if ip is None:
                continue
            taken.add(candidate)
            return replace(state, blocks=state.blocks + (BlockAlloc(cidr, pool.name, node),),
                           pods=state.pods + (PodAlloc(pod, node, ip, cidr),))
    enabled = [p.name for p in rs.ip_pools if _allocates_to(p, labels)]
    raise LabError(f"no address for pod {pod} on node {node}: "
                   + ("every enabled pool that selects it is full" if enabled else
                      "no enabled IP pool selects this node"))


def recreate(state: IpamState, rs: ResourceSet, pod: str) -> IpamState:
    """The pod replaced by a new one of the same name on the same node (a rollout restart).

    The new address is taken while the old one is still held, then the old one is released:
    Calico's IPAM appends a released ordinal to the end of its block's free list, so a new
    pod gets the next unused address rather than the one just freed
    (libcalico-go lib/ipam/ipam_block.go, `release`).
    """
    old = state.pod(pod)
    if old is None:
        raise LabError(f"unknown pod '{pod}'")
    placeholder = f"{pod}\0new"
    state = allocate(state, rs, old.node, placeholder)
    pods = tuple(replace(p, name=pod) if p.name == placeholder else p for p in state.pods if p.name != pod)
    return _drop_released_blocks(replace(state, pods=pods), rs)


def release(state: IpamState, rs: ResourceSet, pod: str) -> IpamState:
    alloc = state.pod(pod)
    if alloc is None:
        return state
    state = replace(state, pods=tuple(p for p in state.pods if p.name != pod))
    return _drop_released_blocks(state, rs)


def _drop_released_blocks(state: IpamState, rs: ResourceSet) -> IpamState:
    """Empty blocks whose pool no longer allocates to their node (or with no affinity) go."""
    pools = {p.name: p for p in rs.ip_pools}
    keep = []
    for block in state.blocks:
        if not state.pods_in(block.cidr):
            if block.node is None:
                continue
            labels = rs.node(block.node).labels if block.node in {n.name for n in rs.nodes} else {}
            if not _allocates_to(pools.get(block.pool), labels):
                continue
        keep.append(block)
    return replace(state, blocks=tuple(keep))


def reconcile_pools(state: IpamState, rs: ResourceSet) -> IpamState:
    """After a change of pools: blocks of deleted pools lose their affinity (empty ones go)."""
    pools = {p.name for p in rs.ip_pools}
    blocks = tuple(b if b.pool in pools else replace(b, node=None) for b in state.blocks)
    return _drop_released_blocks(replace(state, blocks=blocks), rs)


def initial_state(rs: ResourceSet, pods: Iterable[tuple[str, str]]) -> IpamState:
    """Addresses for the lab's first pods, (pod name, Calico node name) in order."""
    state = IpamState()
    taken = _Taken(())
    for pod, node in pods:
        state = allocate(state, rs, node, pod, taken)
    return state


def advertised_blocks(state: IpamState, rs: ResourceSet) -> dict[str, tuple[BlockAlloc, ...]]:
    """Per node, the blocks it blackholes and advertises: its affine blocks (any pool state)."""
    out: dict[str, tuple[BlockAlloc, ...]] = {}
    for block in state.blocks:
        if block.node is not None:
            out[block.node] = out.get(block.node, ()) + (block,)
    return out


def to_plan(state: IpamState, rs: ResourceSet) -> IpamPlan:
    """The renderer's view (ipam.IpamPlan): per node its affine blocks, exported unless the
    pool says disableBGPExport (or is gone: its CIDR leaves the export filter)."""
    pools = {p.name: p for p in rs.ip_pools}
    blocks = {node: tuple(Block(b.cidr, b.pool, node, b.pool in pools and not pools[b.pool].disable_bgp_export)
                          for b in sorted(items, key=lambda b: ip_network(b.cidr)))
              for node, items in advertised_blocks(state, rs).items()}
    return IpamPlan(MappingProxyType(blocks))
