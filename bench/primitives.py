"""Benchmark the netns provider's primitives and the choices made in lab/providers/netns/.

    sudo .venv/bin/python bench/primitives.py [--runs 10] [--no-daemons]

Prints the median (and min/max) of each figure:
- creating a namespace: pyroute2's `netns.create` (forks a helper) vs in-process unshare +
  bind mount (`netlink.create_netns`);
- opening a netlink handle on a namespace: `NetNS(name)` / `IPRoute(netns=name)` (fork a
  helper to make the socket) vs setns on this thread + `IPRoute(groups=0)` (`netlink.handle`);
- one request on an open handle (link up, veth pair, address, route), sysctls inside a
  namespace;
- starting a process in a namespace: `ip netns exec` vs setns before fork vs setns in
  `preexec_fn`;
- the reference lab's shape (4 routers, 2 bridge, 4 node and 4 pod namespaces, 14 veth pairs,
  2 bridges, addresses, routes, sysctls) built and deleted with `netlink`, and how long until
  every veth end is operationally up and pings cross a veth and a bridge; with interfaces
  created up or brought up by `set_all_up`, and with the veth ifindex rule on and off;
- one FRR router (zebra+bgpd) and one BIRD: config check, start until ready, RSS.

Everything is created under the prefix `flbench-` and recorded in a LabState, removed at the end
(or by `teardown` of /tmp/flbench-*/state.json after a crash).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyroute2 import IPRoute, NetNS  # noqa: E402
from pyroute2 import netns as pyroute2_netns  # noqa: E402

from lab.providers.netns import netlink, procs  # noqa: E402
from lab.providers.netns.daemons import BirdNode, FrrRouter  # noqa: E402
from lab.providers.netns.state import LabState, teardown  # noqa: E402

RESULTS: list[tuple[str, list[float]]] = []


def measure(label: str, fn: Callable[[int], object], runs: int, setup: Callable[[int], object] | None = None) -> None:
    times = []
    for i in range(runs):
        if setup:
            setup(i)
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    RESULTS.append((label, times))
    print(f"  {label:62} median {statistics.median(times) * 1000:8.2f} ms  "
          f"(min {min(times) * 1000:.2f}, max {max(times) * 1000:.2f}, n={runs})", flush=True)


def section(title: str) -> None:
    print(f"\n{title}", flush=True)


class Bench:
    def __init__(self, runs: int):
        self.runs = runs
        token = secrets.token_hex(3)
        self.prefix = f"flbench-{token}-"
        self.run_dir = Path(f"/tmp/flbench-{token}")
        self.state = LabState(self.run_dir / "state.json")
        self.state.record_dir(self.run_dir)
        self.run_dir.chmod(0o755)
        self.counter = 0

    def name(self, tag: str) -> str:
        self.counter += 1
        name = f"{self.prefix}{tag}{self.counter}"
        self.state.record_netns(name)
        return name

    def new_ns(self, tag: str = "x") -> str:
        name = self.name(tag)
        netlink.create_netns(name)
        return name

    def close(self) -> None:
        netlink.close_all()
        print(f"\nteardown: {teardown(self.state)}")

    # -- primitives -------------------------------------------------------------------------

    def namespaces(self) -> None:
        section("namespaces")
        names = [self.name("c") for _ in range(self.runs)]
        measure("pyroute2 netns.create(name) (forks a helper)", lambda i: pyroute2_netns.create(names[i]), self.runs)
        for n in names:
            netlink.delete_netns(n)
        names = [self.name("c") for _ in range(self.runs)]
        measure("netlink.create_netns(name): unshare+bind on this thread, lo up",
                lambda i: netlink.create_netns(names[i]), self.runs)
        netlink.close_all()
        measure("NetNS(name, flags=0) open+close (forks a helper)", lambda i: NetNS(names[i], flags=0).close(), self.runs)
        measure("IPRoute(netns=name, flags=0, groups=0) open+close (forks)",
                lambda i: IPRoute(netns=names[i], flags=0, groups=0).close(), self.runs)

        def inside_open(i):
            netlink.handle(names[i])
            netlink.close_all()
        measure("netlink.handle(name): setns + IPRoute(groups=0) + setns back", inside_open, self.runs)
        measure("netlink.delete_netns(name)", lambda i: netlink.delete_netns(names[i]), self.runs)

    def operations(self) -> None:
        section("requests on an open handle")
        a, b = self.new_ns("a"), self.new_ns("b")
        measure("veth pair a:vN <-> b:vN (peer created directly in b)",
                lambda i: netlink.add_veth(a, f"v{i}", b, f"v{i}"), self.runs)
        measure("address add", lambda i: netlink.add_address(a, f"v{i}", f"10.{i}.0.1/24"), self.runs)
        measure("link set up", lambda i: netlink.set_link(a, f"v{i}", True), self.runs)
        measure("route add via gateway", lambda i: netlink.add_route(a, f"172.16.{i}.0/24", gateway=f"10.{i}.0.2"),
                self.runs)
        measure("4 sysctls inside a namespace (ip_forward, hash policy, rp_filter x2)",
                lambda i: netlink.set_sysctls(a, netlink.FORWARDING_SYSCTLS), self.runs)

    def process_start(self) -> None:
        section("starting a process inside a namespace (/bin/true, until it exited)")
        ns = self.new_ns("p")
        path = str(netlink.NETNS_DIR / ns)
        libc = ctypes.CDLL(None, use_errno=True)
        measure("plain Popen (no namespace), for reference", lambda i: subprocess.run(["/bin/true"]), self.runs)
        measure("Popen(ip netns exec NS /bin/true)  <- used",
                lambda i: subprocess.run(procs.netns_argv(ns, ["/bin/true"])), self.runs)

        def thread_setns(i):
            with netlink.inside(ns):
                p = subprocess.Popen(["/bin/true"])
            p.wait()
        measure("setns(this thread) + Popen + setns back", thread_setns, self.runs)

        def preexec(i):
            fd = os.open(path, os.O_RDONLY)
            try:
                subprocess.run(["/bin/true"], preexec_fn=lambda: libc.setns(fd, netlink.CLONE_NEWNET), pass_fds=(fd,))
            finally:
                os.close(fd)
        measure("Popen(preexec_fn=setns)", preexec, self.runs)

    # -- the reference lab's shape -----------------------------------------------------------

    def reference_lab(self, high_index: bool, up: bool = True) -> tuple[float, float, float]:
        """Build, wait until every veth end is operationally up and pings cross a veth and a
        bridge, delete. Returns the 3 times."""
        p = self.prefix + ("h" if high_index else "l") + f"{self.counter}-"
        self.counter += 1
        t0 = time.perf_counter()
        ns = {}
        for target in ("spine0", "spine1", "leaf0", "leaf1", "br-leaf0", "br-leaf1",
                       "node0", "node1", "node2", "node3", "pod0", "pod1", "pod2", "pod3"):
            ns[target] = p + target
            self.state.record_netns(ns[target])
            netlink.create_netns(ns[target])
            if not target.startswith(("br-", "pod")):
                netlink.set_sysctls(ns[target], {**netlink.FORWARDING_SYSCTLS,
                                                 "net.ipv6.conf.all.disable_ipv6": "1",
                                                 "net.ipv6.conf.default.disable_ipv6": "1"})
        veths = []
        for s, spine in enumerate(("spine0", "spine1")):
            for l, leaf in enumerate(("leaf0", "leaf1")):
                veths.append((ns[spine], f"eth{l + 1}", ns[leaf], f"eth{s + 1}"))
                netlink.add_veth(ns[spine], f"eth{l + 1}", ns[leaf], f"eth{s + 1}", up=up)
                netlink.add_address(ns[spine], f"eth{l + 1}", f"10.1.{s * 2 + l}.2/24")
                netlink.add_address(ns[leaf], f"eth{s + 1}", f"10.1.{s * 2 + l}.1/24")
        for l, leaf in enumerate(("leaf0", "leaf1")):
            bns = ns[f"br-{leaf}"]
            ports = [f"p-{leaf}"]
            netlink.add_veth(ns[leaf], "eth3", bns, f"p-{leaf}", up=up)
            veths.append((ns[leaf], "eth3", bns, f"p-{leaf}"))
            netlink.add_address(ns[leaf], "eth3", f"10.1.{5 + l * 3}.1/24")
            for n in (l * 2, l * 2 + 1):
                node, pod = ns[f"node{n}"], ns[f"pod{n}"]
                netlink.add_veth(node, "eth0", bns, f"p-node{n}", up=up)
                veths.append((node, "eth0", bns, f"p-node{n}"))
                ports.append(f"p-node{n}")
                netlink.add_address(node, "eth0", f"10.1.{5 + l * 3}.{10 + n}/24")
                cali = f"cali{n:011d}"
                netlink.add_veth(node, cali, pod, "eth0", up=up)
                veths.append((node, cali, pod, "eth0"))
                netlink.add_address(pod, "eth0", f"10.244.{n}.1/32")
                netlink.set_sysctls(node, netlink.proxy_arp_sysctls(cali))
            netlink.add_bridge(bns, f"br-{leaf}", ports, up=up)
        if not up:
            for name in ns.values():
                netlink.set_all_up(name)
        for n in range(4):
            node, pod = ns[f"node{n}"], ns[f"pod{n}"]
            leaf_ip = "10.1.5.1" if n < 2 else "10.1.8.1"
            netlink.add_route(node, "default", gateway=leaf_ip)
            netlink.add_route(node, f"10.244.{n}.1/32", dev=f"cali{n:011d}", scope_link=True)
            netlink.add_route(pod, "169.254.1.1/32", dev="eth0", scope_link=True)
            netlink.add_route(pod, "default", gateway="169.254.1.1", dev="eth0")
        built = time.perf_counter() - t0
        # No link-state polling here: a RTM_GETLINK of an interface makes the kernel apply its
        # pending linkwatch event at once, which would hide the delay being measured.
        firsts = []
        for src, dst in (("pod3", "10.1.8.13"), ("node3", "10.1.8.1"), ("leaf1", "10.1.1.2")):
            while subprocess.run(["ip", "netns", "exec", ns[src], "ping", "-c", "1", "-W", "0.1", dst],
                                 capture_output=True).returncode != 0:
                pass
            firsts.append(time.perf_counter() - t0)
        carrier = firsts[0]
        pinged = time.perf_counter() - t0
        d0 = time.perf_counter()
        for name in ns.values():
            netlink.delete_netns(name)
        self.delete_times.append(time.perf_counter() - d0)
        return built, carrier, pinged

    def reference(self) -> None:
        section("reference lab shape: 14 namespaces, 14 veth pairs, 2 bridges, 22 addresses, 16 routes, sysctls")
        self.delete_times: list[float] = []
        variants = ((True, True, "ends with different ifindexes, created up (used)"),
                    (True, False, "ends with different ifindexes, created down + set_all_up"),
                    (False, True, "kernel-chosen ifindexes (both ends often 2), created up"))
        for high_index, up, label in variants:
            original = netlink._high_index
            if not high_index:
                netlink._high_index = lambda ns, refresh=False: 0  # 0: the kernel picks
            try:
                rows = []
                for _ in range(self.runs):
                    rows.append(self.reference_lab(high_index, up))
                    time.sleep(0.05)  # let the kernel free the namespaces between runs
            finally:
                netlink._high_index = original
            print(f"  {label}:")
            for col, what in enumerate(("built (create + wire + address + route + sysctl)",
                                        "first ping pod3 -> node3 (veth) answered",
                                        "+ node3 -> leaf1 (bridge), leaf1 -> spine0 (veth)")):
                values = [r[col] for r in rows]
                RESULTS.append((f"{label}: {what}", values))
                print(f"    {what:58} median {statistics.median(values) * 1000:8.1f} ms  "
                      f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f}, n={len(values)})", flush=True)
        print(f"  {'delete 14 namespaces':60} median {statistics.median(self.delete_times) * 1000:8.1f} ms")

    def linkwatch(self) -> None:
        section("veth into a bridge that has an address: set_all_up, then ping the bridge's address")
        for high_index, label in ((True, "veth ends with different ifindexes (used)"),
                                  (False, "kernel-chosen ifindexes (both ends are 2)")):
            original = netlink._high_index
            if not high_index:
                netlink._high_index = lambda ns, refresh=False: 0
            times = []
            try:
                for _ in range(self.runs):
                    a, b = self.new_ns("wa"), self.new_ns("wb")
                    netlink.add_veth(a, "eth1", b, "eth1")
                    netlink.add_bridge(b, "br0", ["eth1"])
                    netlink.add_address(a, "eth1", "10.9.0.1/24")
                    netlink.add_address(b, "br0", "10.9.0.2/24")
                    t0 = time.perf_counter()
                    netlink.set_all_up(a)
                    netlink.set_all_up(b)
                    while subprocess.run(["ip", "netns", "exec", a, "ping", "-c", "1", "-W", "0.1", "10.9.0.2"],
                                         capture_output=True).returncode != 0:
                        pass
                    times.append(time.perf_counter() - t0)
                    netlink.delete_netns(a)
                    netlink.delete_netns(b)
            finally:
                netlink._high_index = original
            RESULTS.append((f"bridge ping, {label}", times))
            print(f"  {label:62} median {statistics.median(times) * 1000:8.1f} ms  "
                  f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={len(times)})", flush=True)

    # -- daemons -------------------------------------------------------------------------------

    def daemons(self) -> None:
        section("daemons (one FRR router, one BIRD), config check / start until ready")
        ns = self.new_ns("d")
        frr_times, bird_times, checks = [], [], []
        rss = {}
        for i in range(min(self.runs, 5)):
            router = FrrRouter("r", ns, self.run_dir / f"frr{i}", "hostname r\nno zebra nexthop kernel enable\n",
                               "router bgp 65001\n bgp router-id 10.0.0.1\n no bgp ebgp-requires-policy\n")
            bird = BirdNode("b", ns, self.run_dir / f"bird{i}", "router id 10.0.0.2;\nprotocol device {}\n")
            t0 = time.perf_counter()
            router.check()
            bird.check()
            checks.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            router.start(self.state)
            router.wait_ready()
            frr_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            bird.start(self.state)
            bird.wait_ready()
            bird_times.append(time.perf_counter() - t0)
            for proc in (*router.procs.values(), bird.proc):
                rss.setdefault(proc.role.split(":")[0], []).append(_rss_mb(proc.pid))
            router.stop()
            bird.stop()
        for label, values in (("zebra -C + bgpd -C + bird -p", checks), ("FRR start until zebra and bgpd answer on their vty sockets", frr_times),
                              ("BIRD start until birdc answers", bird_times)):
            RESULTS.append((label, values))
            print(f"  {label:62} median {statistics.median(values) * 1000:8.1f} ms  (n={len(values)})")
        print("  RSS after start: " + ", ".join(f"{k} {statistics.median(v):.1f} MB" for k, v in rss.items()))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-daemons", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (creates network namespaces)", file=sys.stderr)
        return 1
    print(f"{os.uname().release}, {len(os.sched_getaffinity(0))} CPUs, python {sys.version.split()[0]}")
    bench = Bench(args.runs)
    try:
        bench.namespaces()
        bench.operations()
        bench.process_start()
        bench.reference()
        bench.linkwatch()
        if not args.no_daemons:
            bench.daemons()
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
