"""What one kernel costs many lab nodes: route installs as the namespaces holding routes grow.

    sudo .venv/bin/python bench/kernel_routes.py [--namespaces 1000] [--routes 200] [--every 100]

Makes namespaces `fl-kr-<token>-<i>` one after another (all removed at the end, also after
Ctrl-C), each with an interface 10.8.0.2/22 (the same address in every one, as lab nodes
look alike) and an `ip monitor route` process listening in it (BIRD's kernel protocol
listens too), and installs `--routes` /26 routes via 10.8.0.1 into each, one netlink request
with its ACK at a time (as BIRD 1.6 does). Every `--every` namespaces it prints the mean time
per route install in the last namespace filled. On separate machines the time would stay
flat; on one kernel it grows wherever a structure is shared by every namespace.
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.providers.netns import netlink  # noqa: E402


def fill(name: str, dsts: list[str]) -> float:
    netlink.create_netns(name)
    # A veth pair with both ends inside (this kernel class may lack dummy interfaces).
    netlink.add_veth(name, "eth0", name, "peer0", up=True)
    netlink.add_address(name, "eth0", "10.8.0.2/22")
    started = time.perf_counter()
    for dst in dsts:
        netlink.add_route(name, dst, gateway="10.8.0.1", dev="eth0", proto=12)
    return (time.perf_counter() - started) / len(dsts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--routes", type=int, default=200)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--no-listeners", action="store_true", help="no `ip monitor` in the namespaces")
    args = parser.parse_args()
    token = secrets.token_hex(2)
    dsts = [str(n) for n in list(ipaddress.ip_network("10.244.0.0/16").subnets(new_prefix=26))[:args.routes]]
    names: list[str] = []
    watchers: list[subprocess.Popen] = []
    print(f"{'namespaces':>10} {'µs per route install':>21}", flush=True)
    try:
        for i in range(args.namespaces):
            name = f"fl-kr-{token}-{i}"
            names.append(name)
            per_route = fill(name, dsts)
            if not args.no_listeners:
                watchers.append(subprocess.Popen(["ip", "-n", name, "monitor", "route"],
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            if i == 0 or (i + 1) % args.every == 0:
                print(f"{i + 1:>10} {per_route * 1e6:>21.1f}", flush=True)
    finally:
        for watcher in watchers:
            watcher.terminate()
        for watcher in watchers:
            watcher.wait()
        for name in names:
            netlink.delete_netns(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
