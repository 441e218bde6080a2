"""failover: a leaf uplink goes down under load; traffic moves to the other spine; ECMP returns.

A steady probe stream (several flows, round robin, a few ms apart) runs from a
pod behind the leaf to a pod in another rack. The check waits for replies to
flow, sets the leaf's first uplink down, waits until replies keep arriving with
the link down, brings it up, waits until the leaf's route to the remote pod's
block has every spine as next hop again, and stops the stream, which reports
the loss window: the longest time any flow delivered nothing. The link is set
up again even when the check fails.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network

from .base import FAIL, PASS, SKIP, CheckResult, Context, poll
from .ecmp import ECHO_PORT, pick_path
from .observe import observe_routes

NAME = "failover"
FLOWS = 8
INTERVAL_MS = 5
MAX_LOSS_WINDOW_MS = 1000  # carrier loss withdraws at once; a hold-timer expiry (3 s) would fail this


def _received(log_path) -> int:
    try:
        lines = log_path.read_text().splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        if line.startswith("progress"):
            return int(line.split("received=")[1])
    return 0


def run(ctx: Context) -> CheckResult:
    chosen = pick_path(ctx)
    if chosen is None:
        return CheckResult(NAME, SKIP, "a leaf with two uplinks and pods in two racks", "not in this topology")
    leaf, uplinks, src, dst = chosen
    iface = uplinks[0]
    lab, access = ctx.lab, ctx.access
    block = _block_of(ctx, dst)
    log = ctx.capture_dir / "failover-stream.log"
    problems: list[str] = []
    figures: dict = {"link": f"{leaf.name}:{iface}"}

    def next_hops() -> int:
        for r in observe_routes(access, leaf.name):
            if block is not None and r.dst == block:
                return len(r.gateways)
        return 0

    echo = lab.start_traffic(dst.name, ["echo", "--port", str(ECHO_PORT + 1), "--seconds", "60"],
                             ctx.capture_dir / "failover-echo.log", ready="ready echo")
    stream = None
    link_down = False
    try:
        stream = lab.start_traffic(src.name, ["stream", "--dst", dst.ip, "--port", str(ECHO_PORT + 1),
                                              "--flows", str(FLOWS), "--interval-ms", str(INTERVAL_MS),
                                              "--base-sport", "42000"], log, ready="progress")
        if not poll(lambda: _received(log), lambda n: n >= 50, ctx.deadline, 0.02)[0]:
            problems.append(f"no replies from {dst.name} before the link went down")
            return _result(problems, figures, leaf, iface)
        before = _received(log)
        lab.link(leaf.name, iface, False)
        link_down = True
        # Keep the link down longer than the allowed loss window: a flow that never moves to
        # the other spine then shows up as a loss window above the limit.
        down_probes = int(1.2 * MAX_LOSS_WINDOW_MS / INTERVAL_MS)
        if not poll(lambda: _received(log), lambda n: n >= before + down_probes, ctx.deadline, 0.02)[0]:
            problems.append(f"traffic did not continue via the other spine with {leaf.name} {iface} down")
        figures["next_hops_while_down"] = next_hops()
        lab.link(leaf.name, iface, True)
        link_down = False
        restored, hops = poll(next_hops, lambda n: n >= len(uplinks), ctx.deadline, ctx.interval)
        figures["next_hops_after_up"] = hops
        if not restored:
            problems.append(f"ECMP not restored: {leaf.name} routes {block} via {hops} next hops after link up, want {len(uplinks)}")
    finally:
        if link_down:
            lab.link(leaf.name, iface, True)
        summary = stream.stop() if stream else None
        echo.stop()
    stats = _summary(summary)
    figures.update(stats)
    if stats.get("loss_window_ms") is None:
        problems.append("the probe stream reported no summary")
    elif stats["loss_window_ms"] > MAX_LOSS_WINDOW_MS:
        problems.append(f"loss window {stats['loss_window_ms']} ms exceeds {MAX_LOSS_WINDOW_MS} ms")
    return _result(problems, figures, leaf, iface)


def _block_of(ctx: Context, pod) -> IPv4Network | None:
    for r in observe_routes(ctx.access, pod.node):
        if r.kind == "blackhole" and r.protocol == "bird" and pod.ip and IPv4Network(f"{pod.ip}/32").subnet_of(r.dst):
            return r.dst
    return None


def _summary(result) -> dict:
    if result is None:
        return {}
    for line in reversed(result.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


def _result(problems, figures, leaf, iface) -> CheckResult:
    window = figures.get("loss_window_ms")
    return CheckResult(
        NAME, FAIL if problems else PASS,
        expected=f"with {leaf.name} {iface} down traffic continues via the other spine (loss window <= "
                 f"{MAX_LOSS_WINDOW_MS} ms); after link up ECMP is back",
        observed=(f"loss window {window} ms, {figures.get('lost', '?')} of {figures.get('sent', '?')} probes lost, "
                  f"next hops while down {figures.get('next_hops_while_down', '?')}, after up {figures.get('next_hops_after_up', '?')}")
                 + (f"; {problems[0]}" if problems else ""),
        figures=figures, details=problems,
    )
