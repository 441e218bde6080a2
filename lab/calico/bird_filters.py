"""The route side of calico-node's BIRD config: static routes, aggregation, export and kernel filters.

Shapes from projectcalico/calico confd/etc/calico/confd/templates/{bird_aggr,bird_ipam}.cfg.template
(v3.23.5, v3.31) and confd/pkg/backends/calico/bgp_processor.go (v3.32.1):
- `protocol static`: a blackhole per block the node owns (not /32 blocks), a blackhole per
  Service CIDR (serviceClusterIPs/ExternalIPs/LoadBalancerIPs: confd's "static routes"), and
  `route <peer>/32 via <reachableBy>` for BGPPeers with reachableBy;
- export: disabled-pool blocks rejected first (`disableBGPExport`), communities, the block
  aggregation, the static routes, then the enabled pools;
- kernel: every Service CIDR in the reject list (advertised, never programmed into the kernel,
  so no blackhole for it there); from v3.32 BGP routes get `krt_metric` (1024 or
  2147483647 - LOCAL_PREF). Upstream BIRD has no `krt_tunnel` (Calico's fork does): left out.
"""

from __future__ import annotations

from ipaddress import ip_network

from .ipam import Block
from .resources import BGPConfiguration, FilterRule, ResourceSet
from .versions import CalicoVersion

INT_MAX = 2147483647  # BirdIntMaxValue in confd's template funcs
_OPERATOR = {"Equal": "=", "NotEqual": "!=", "In": "~", "NotIn": "!~"}


def service_cidrs(conf: BGPConfiguration) -> tuple[str, ...]:
    return tuple(dict.fromkeys(conf.service_cluster_ips + conf.service_external_ips + conf.service_loadbalancer_ips))


def communities(rs: ResourceSet, node: str) -> list[str]:
    per_node = rs.node_bgp_configuration(node)
    adverts = (per_node.prefix_advertisements if per_node and per_node.prefix_advertisements
               else rs.default_bgp_configuration().prefix_advertisements)
    lines = ["function apply_communities ()", "{"]
    for advert in adverts:
        lines.append(f"  if ( net ~ {advert.cidr} ) then {{")
        for value in advert.communities:
            parts = value.split(":")
            attr = "bgp_community" if len(parts) == 2 else "bgp_large_community"
            lines.append(f"    {attr}.add(({', '.join(parts)}));")
        lines.append("  }")
    return lines + ["}", ""]


def static_and_aggr(version: CalicoVersion, blocks: tuple[Block, ...], services: tuple[str, ...],
                    reachable: list[tuple[str, str]], priority: int) -> list[str]:
    routes = [f"  route {b.cidr} blackhole;" for b in blocks if not b.cidr.endswith("/32")]
    statics = [f"  route {c} blackhole;" for c in services]
    body = (["  # IP blocks for this host."] + routes if routes else []) + \
           (["  # Static routes (Service CIDRs: advertised, rejected for the kernel)."] + statics if statics else []) + \
           (["  # Static routes needed for BGP peers (reachableBy)."] +
            [f"  route {ip}/32 via {via};" for ip, via in reachable] if reachable else [])
    if body:
        lines = ["protocol static {", *body, "}", ""]
    elif version.family == "processor":
        lines = ["protocol static {", "  # No IP blocks or static routes for this host.", "}", ""]
    else:
        lines = ["# No IP blocks or static routes for this host.", ""]
    lines += ["# Aggregation of routes on this host; export the block, nothing beneath it.",
              "function calico_aggr ()", "{"]
    for b in blocks:
        lines.append(f"  # Block {b.cidr} is implicitly confirmed.")
        lines.append(f"  if ( net = {b.cidr} ) then {{ accept; }}")
        if version.family == "processor":
            lines.append(f"  if ( net ~ {b.cidr} && krt_metric < {priority} ) then {{ accept; }}")
        lines.append(f"  if ( net ~ {b.cidr} ) then {{ reject; }}")
    return lines + ["}", ""]


def export_and_kernel(version: CalicoVersion, rs: ResourceSet, services: tuple[str, ...], is_reflector: bool,
                      priority: int) -> list[str]:
    pools = sorted(rs.ip_pools, key=lambda p: p.cidr.replace("/", "-"))
    disabled = [p for p in pools if p.disable_bgp_export]
    lines: list[str] = []
    if version.family == "template":
        lines += ["function reject_disabled_pools ()", "{"]
        lines += [f"  if ( net ~ {p.cidr} ) then {{ reject; }}" for p in disabled] + ["}", ""]
    if version.session_filters:
        lines += ["function reject_tunnel_routes () {",
                  "  # Don't export tunnel routes to other nodes, Felix programs them.",
                  "  if (defined(ifname)) then {",
                  '     if ((ifname ~ "*.cali") || (ifname ~ "*.calico")) then {', "        reject;", "     }",
                  "  }", "}", "",
                  "function calico_export_to_bgp_peers(bool internal_peer) {"]
    else:
        lines += ["filter calico_export_to_bgp_peers {"]
    if version.family == "template":
        lines.append("  reject_disabled_pools();")
    else:
        lines += sorted(f"  if (net ~ {p.cidr}) then {{ reject; }} # BGP export is disabled." for p in disabled)
    if version.session_filters:
        lines += ["  if (internal_peer) then {", "    reject_tunnel_routes();", "  }"]
    lines += ["  apply_communities();", "  calico_aggr();"]
    if services:
        lines += ["", "  # Export static routes."] + [f"  if ( net ~ {c} ) then {{ accept; }}" for c in services]
    lb = rs.default_bgp_configuration().service_loadbalancer_ips
    if is_reflector and lb and version.at_least(27):
        lines += ["", "  # Configured as a RR - accept any routes within configured LB service IP ranges"]
        lines += [f"  if ( net ~ {c} ) then {{ accept; }}" for c in lb]
    if version.family == "template":
        for p in pools:
            lines += ([f"  # Skip {p.cidr} as BGP export is disabled for it"] if p.disable_bgp_export else
                      [f"  if ( net ~ {p.cidr} ) then {{", "    accept;", "  }"])
        if not version.session_filters:
            lines.append("  reject;")
    else:
        lines += sorted(f"  if (net ~ {p.cidr}) then {{ accept; }}" for p in pools if not p.disable_bgp_export)
    lines += ["}", "", "filter calico_kernel_programming {"]
    if services:
        lines += ["", "  # Don't program static routes into kernel."]
        lines += [f"  if ( net ~ {c} ) then {{ reject; }}" for c in services]
    if version.family == "processor":
        lines += ["  if (defined(source) && (source = RTS_BGP) && !defined(krt_metric)) then {",
                  f"      krt_metric = {priority};",
                  "      if (defined(bgp_local_pref)) then {",
                  f"          krt_metric = {INT_MAX} - bgp_local_pref;", "      }",
                  f"      if (krt_metric < {priority}) then {{", "          preference = 200;", "      }", "  }"]
        lines += sorted(f"  if (net ~ {p.cidr}) then {{ accept; }}" for p in pools)
    else:
        lines += [f"  if ( net ~ {p.cidr} ) then {{ accept; }}" for p in pools]
    return lines + ["  accept;", "}", ""]


def filter_function_name(name: str, direction: str) -> str:
    return f"'bgp_{name}_{direction}FilterV4'"


def bgp_filter_functions(rs: ResourceSet) -> list[str]:
    lines = ["# -------------- BGP Filters ------------------"]
    for f in sorted(rs.bgp_filters, key=lambda f: f.name):
        if not (f.import_v4 or f.export_v4):
            continue
        if len(f.name) > 45:  # confd truncates and hashes longer names; not modelled
            raise ValueError(f"BGPFilter {f.name}: names longer than 45 characters are not supported by the netns lab")
        lines.append(f"# v4 BGPFilter {f.name}")
        for direction, rules in (("import", f.import_v4), ("export", f.export_v4)):
            if rules:
                lines.append(f"function {filter_function_name(f.name, direction)}() {{")
                lines += [f"  {_statement(r)}" for r in rules] + ["}"]
    if len(lines) == 1:
        lines.append("# No v4 BGPFilters configured")
    return lines + [""]


def _statement(rule: FilterRule) -> str:
    conditions = []
    if rule.cidr:
        target = rule.cidr
        if rule.prefix_min is not None or rule.prefix_max is not None:
            low = max(ip_network(rule.cidr).prefixlen, rule.prefix_min or 0)
            high = min(32, rule.prefix_max if rule.prefix_max is not None else 32)
            target = f"[ {rule.cidr}{{{low},{high}}} ]"
        conditions.append(f"(net {_OPERATOR[rule.match_operator or 'In']} {target})")
    if rule.source:
        conditions.append("((defined(source))&&(source ~ [ RTS_BGP ]))")
    if rule.interface:
        conditions.append(f'((defined(ifname))&&(ifname ~ "{rule.interface}"))')
    action = f"{rule.action.lower()};"
    return f"if ({'&&'.join(conditions)}) then {{ {action} }}" if conditions else action
