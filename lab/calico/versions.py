"""Calico versions: which behaviour family a version belongs to, and which API fields it knows.

Facts read from projectcalico/calico at the release tags:
- up to v3.31 calico-node's confd writes BIRD's peers from the Go template
  `confd/etc/calico/confd/templates/bird.cfg.template`, section by section: node-to-node
  mesh, then global peers, then node-specific peers. v3.23/v3.24 put `multihop` in
  `bgp_template` (every session, the mesh too); from v3.25 each Global_/Node_ session
  carries `ttl security off; multihop;` (or `ttl security on; multihop N;` with ttlSecurity)
  and the mesh none; from v3.26 each session has its own import/export filter block
  (BGPFilter functions, `calico_export_to_bgp_peers(<same AS>)`).
- from v3.32 the peers come from Go (`confd/pkg/backends/calico/bgp_processor.go`), sorted by
  protocol name (`sort.Slice(config.Peers, ... Name < Name)`): Global_ < Mesh_ < Node_; the
  kernel export sets `krt_metric` (1024, BGPConfiguration ipv4NormalRoutePriority) and the
  per-session export filter sets `bgp_local_pref = 2147483647 - krt_metric` (2147482623 on iBGP).
- API fields appear release by release (api/pkg/apis/projectcalico/v3/*.go): `SINCE` below
  lists those newer than v3.23; calicoctl of an older release rejects them as unknown fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import LabError

DEFAULT_VERSION = "v3.23.5"  # the manifest the clab provider installs (lab/loader.py CALICO_DEFAULT_VERSION)
TEMPLATE, PROCESSOR = "template", "processor"  # <= v3.31 / >= v3.32

# (kind, field path) -> first release whose API has it (older ones are v3.23 or earlier).
SINCE: dict[tuple[str, str], tuple[int, int]] = {
    ("BGPPeer", "spec.ttlSecurity"): (3, 25), ("BGPPeer", "spec.reachableBy"): (3, 25),
    ("BGPPeer", "spec.filters"): (3, 26), ("BGPPeer", "spec.localWorkloadSelector"): (3, 30),
    ("BGPPeer", "spec.localASNumber"): (3, 31), ("BGPPeer", "spec.nextHopMode"): (3, 31),
    ("BGPPeer", "spec.reversePeering"): (3, 31), ("BGPPeer", "spec.keepaliveTime"): (3, 32),
    ("BGPConfiguration", "spec.ignoredInterfaces"): (3, 25),
    ("BGPConfiguration", "spec.localWorkloadPeeringIPV4"): (3, 30),
    ("BGPConfiguration", "spec.localWorkloadPeeringIPV6"): (3, 30),
    ("BGPConfiguration", "spec.serviceLoadBalancerAggregation"): (3, 31),
    ("BGPConfiguration", "spec.programClusterRoutes"): (3, 32),
    ("BGPConfiguration", "spec.ipv4NormalRoutePriority"): (3, 32),
    ("BGPConfiguration", "spec.ipv6NormalRoutePriority"): (3, 32),
    ("IPPool", "spec.assignmentMode"): (3, 30), ("IPPool", "spec.namespaceSelector"): (3, 31),
    ("BGPFilter", ""): (3, 26), ("BGPFilter", "spec.*.source"): (3, 27), ("BGPFilter", "spec.*.interface"): (3, 27),
    ("BGPFilter", "spec.*.prefixLength"): (3, 29), ("BGPFilter", "spec.*.peerType"): (3, 32),
}

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True)
class CalicoVersion:
    text: str
    major: int
    minor: int
    patch: int = 0

    @property
    def family(self) -> str:
        return PROCESSOR if (self.major, self.minor) >= (3, 32) else TEMPLATE

    def at_least(self, minor: int) -> bool:
        return (self.major, self.minor) >= (3, minor)

    @property
    def session_ttl(self) -> bool:
        """Per-session `ttl security` + `multihop` (v3.25+) instead of `multihop` in the template."""
        return self.at_least(25)

    @property
    def session_filters(self) -> bool:
        """Per-session import/export filter blocks (v3.26+, the BGPFilter era)."""
        return self.at_least(26)

    def knows(self, kind: str, path: str) -> tuple[int, int] | None:
        """None if this release's API has the field, else the release that introduced it."""
        since = SINCE.get((kind, path))
        return since if since and (self.major, self.minor) < since else None

    def __str__(self) -> str:
        return self.text


def felix_pod_route_metric(version: CalicoVersion) -> int | None:
    """Metric Felix gives pod /32 routes: 1024 from v3.32 (the normal route priority), none before."""
    return 1024 if version.family == PROCESSOR else None


def parse_version(text: str | None) -> CalicoVersion:
    text = text or DEFAULT_VERSION
    match = _VERSION.match(text.strip())
    if not match or int(match.group(1)) != 3 or int(match.group(2)) < 20:
        raise LabError(f"calico.version '{text}' is not a Calico v3 release the lab models (e.g. v3.23.5 or v3.32.1)")
    return CalicoVersion(text if text.startswith("v") else f"v{text}", int(match.group(1)), int(match.group(2)),
                         int(match.group(3) or 0))


LATEST = parse_version("v3.32.1")
