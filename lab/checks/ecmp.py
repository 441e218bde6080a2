"""ecmp: prove load sharing across the spines with packets.

Captures run on both spine-facing interfaces of a leaf while a pod in that
leaf's rack sends many distinct UDP flows (one source port each) to a pod in
another rack, which echoes them. From the pcaps: which uplink carried each
flow's request (and its reply: with ECMP at both leaves they may differ). Pass
when every flow was answered and each uplink carried a meaningful share.
"""

from __future__ import annotations

import json
from collections import Counter

from .. import model as m
from ..expect import routed_racks
from ..fabric import FABRIC, router_bgp
from ..pcap import read_packets
from .base import FAIL, PASS, SKIP, CheckResult, Context, PodInfo

NAME = "ecmp"
FLOWS = 64
MIN_SHARE = 0.20
ECHO_PORT = 5201
BASE_SPORT = 41000


def pick_path(ctx: Context) -> tuple[m.Router, list[str], PodInfo, PodInfo] | None:
    """A leaf with two or more uplinks, a pod behind it and a pod in another rack."""
    topo = ctx.topo
    if not routed_racks(topo):
        return None
    pods = list(ctx.lab.pods())
    for leaf in topo.leaves():
        uplinks = [n.local_iface for n in router_bgp(topo, leaf).neighbors if n.kind == FABRIC]
        if len(uplinks) < 2:
            continue
        local = [p for p in pods if topo.rack(topo.cluster.node(p.node).rack).leaf == leaf.name]
        remote = [p for p in pods if topo.rack(topo.cluster.node(p.node).rack).leaf not in (leaf.name, None)]
        if local and remote:
            return leaf, uplinks, local[0], remote[0]
    return None


def split_flows(packets_by_iface: dict[str, list], src_ip: str, dst_ip: str, port: int):
    """Per flow (source port): the uplinks that carried its requests and its replies."""
    requests: dict[int, set[str]] = {}
    replies: dict[int, set[str]] = {}
    for iface, packets in packets_by_iface.items():
        for p in packets:
            if p.proto != 17:
                continue
            if p.src == src_ip and p.dst == dst_ip and p.dport == port:
                requests.setdefault(p.sport, set()).add(iface)
            elif p.src == dst_ip and p.dst == src_ip and p.sport == port:
                replies.setdefault(p.dport, set()).add(iface)
    return requests, replies


def _down_links(ctx: Context, target: str, ifaces: list[str]) -> set[str]:
    result = ctx.access.exec(target, ["ip", "-j", "link", "show"])
    try:
        links = json.loads(result.stdout or "[]")
    except ValueError:
        return set()
    return {link["ifname"] for link in links if link.get("ifname") in ifaces and "UP" not in link.get("flags", [])}


def run(ctx: Context) -> CheckResult:
    chosen = pick_path(ctx)
    if chosen is None:
        return CheckResult(NAME, SKIP, "a leaf with two uplinks and pods in two racks", "not in this topology")
    leaf, uplinks, src, dst = chosen
    lab = ctx.lab
    down = _down_links(ctx, leaf.name, uplinks)
    # A down uplink carries nothing and cannot be captured on: count it as zero.
    live = [i for i in uplinks if i not in down]
    pcaps = {iface: ctx.capture_dir / f"ecmp-{leaf.name}-{iface}.pcap" for iface in live}
    bpf = f"udp and host {src.ip} and host {dst.ip}"
    echo = lab.start_traffic(dst.name, ["echo", "--port", str(ECHO_PORT), "--seconds", "60"],
                             ctx.capture_dir / "ecmp-echo.log", ready="ready echo")
    try:
        with lab.capture(leaf.name, live, pcaps, bpf):
            result = lab.run_traffic(src.name, ["flows", "--dst", dst.ip, "--port", str(ECHO_PORT),
                                                "--flows", str(FLOWS), "--base-sport", str(BASE_SPORT)])
    finally:
        echo.stop()
    answer = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {"missing": list(range(FLOWS))}
    requests, replies = split_flows({i: list(read_packets(p)) for i, p in pcaps.items()}, src.ip, dst.ip, ECHO_PORT)
    share: Counter[str] = Counter()
    for sport, ifaces in requests.items():
        for iface in ifaces:
            share[iface] += 1
    asymmetric = sum(1 for sport in requests if sport in replies and requests[sport] != replies[sport])
    problems = [f"{leaf.name} {iface} is down: no capture there" for iface in down]
    if answer.get("missing"):
        problems.append(f"{len(answer['missing'])} of {FLOWS} flows got no answer from {dst.name}")
    unseen = [p for p in answer.get("answered", []) if p not in requests]
    if unseen:
        # Answered, so it crossed an uplink: the capture lost it and the split cannot be trusted.
        problems.append(f"{len(unseen)} answered flows are in no uplink capture (capture incomplete)")
    for iface in uplinks:
        if share[iface] < MIN_SHARE * FLOWS:
            problems.append(f"{leaf.name} {iface} carried {share[iface]} of {FLOWS} flows (< {MIN_SHARE:.0%})")
    split = {iface: share[iface] for iface in uplinks}
    return CheckResult(
        NAME, FAIL if problems else PASS,
        expected=f"{FLOWS} UDP flows {src.name} -> {dst.name} all answered; each of {leaf.name} "
                 f"{'/'.join(uplinks)} carries >= {MIN_SHARE:.0%}",
        observed="split " + " / ".join(f"{i} {n}" for i, n in split.items())
                 + f", {asymmetric} flows replied via the other spine" + (f"; {problems[0]}" if problems else ""),
        figures={"flows": FLOWS, "split": split, "answered": FLOWS - len(answer.get("missing", [])),
                 "asymmetric_flows": asymmetric, "pcaps": [str(p) for p in pcaps.values()]},
        details=problems,
    )
