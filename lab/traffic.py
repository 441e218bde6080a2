"""Traffic for the checks, run inside a pod: `python3 traffic.py echo|flows|stream ...`.

Standard library only and no imports from `lab`, so the same file runs in a
netns pod (host Python) and is copied into a container pod (clab) unchanged.

- echo:   UDP echo responder; each datagram goes back to its sender.
- flows:  one datagram per source port (N distinct 5-tuples), waits for the
          echoes; prints JSON {"sent", "answered", "missing"}. Used for ECMP.
- stream: a steady probe stream over N flows, round robin, until SIGTERM;
          prints progress lines, then a JSON summary with the loss window.
          Used for failover.
- probe:  sequence-numbered probes to one or more destinations (one flow each),
          one every interval, until SIGTERM or --limit seconds; logs every
          probe sent (`s TIME DST SEQ`) and every echo received (`r TIME DST
          SEQ`), TIME in wall-clock seconds (the same clock in every namespace,
          so marks written elsewhere line up). Used by background traffic
          (lab/probes/).
"""

from __future__ import annotations

import argparse
import json
import select
import signal
import socket
import sys
import time

MAGIC = b"FLAB"


def echo(port: int, seconds: float) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    print(f"ready echo port={port}", flush=True)
    deadline = time.monotonic() + seconds
    peers: set[tuple[str, int]] = set()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop and time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 0.1)
        if not ready:
            continue
        data, addr = sock.recvfrom(2048)
        if data.startswith(MAGIC):
            peers.add(addr)
            sock.sendto(data, addr)
    print(json.dumps({"echoed_flows": len(peers)}), flush=True)
    return 0


def _flow_sockets(count: int, base_sport: int) -> list[socket.socket]:
    """One UDP socket per flow, each bound to its own source port."""
    socks = []
    for index in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("0.0.0.0", base_sport + index))
        sock.setblocking(False)
        socks.append(sock)
    return socks


def _replies(socks, timeout: float):
    """(socket, payload after MAGIC) for every echo that arrives within `timeout`."""
    ready, _, _ = select.select(socks, [], [], timeout)
    for sock in ready:
        try:
            data, _ = sock.recvfrom(2048)
        except BlockingIOError:
            continue
        if data.startswith(MAGIC):
            yield sock, data[len(MAGIC):]


def flows(dst: str, port: int, count: int, base_sport: int, timeout: float) -> int:
    socks = {sock: base_sport + i for i, sock in enumerate(_flow_sockets(count, base_sport))}
    answered: set[int] = set()
    deadline = time.monotonic() + timeout
    # Resend to the silent flows a few times: the first packets may meet cold ARP caches.
    next_send = 0.0
    while len(answered) < count and time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_send:
            for sock, sport in socks.items():
                if sport not in answered:
                    sock.sendto(MAGIC + str(sport).encode(), (dst, port))
                    # Paced, not a burst: captures on a busy 2-core host keep up.
                    time.sleep(0.0005)
            next_send = time.monotonic() + 0.3
        for sock, _ in _replies(list(socks), 0.05):
            answered.add(socks[sock])
    for sock in socks:
        sock.close()
    ports = sorted(socks.values())
    print(json.dumps({"sent": ports, "answered": sorted(answered),
                      "missing": [p for p in ports if p not in answered]}), flush=True)
    return 0


def stream(dst: str, port: int, count: int, base_sport: int, interval_ms: float) -> int:
    socks = _flow_sockets(count, base_sport)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sent_at: dict[int, float] = {}
    answered_at: dict[int, float] = {}
    interval = interval_ms / 1000.0
    seq = 0
    start = time.monotonic()
    next_send = start
    next_progress = start
    while not stop:
        now = time.monotonic()
        if now >= next_send:
            sock = socks[seq % count]
            sock.sendto(MAGIC + f"{seq}".encode(), (dst, port))
            sent_at[seq] = now
            seq += 1
            next_send += interval
        for _, payload in _replies(socks, max(0.0, min(next_send, next_progress) - time.monotonic())):
            answered_at.setdefault(int(payload), time.monotonic())
        if time.monotonic() >= next_progress:
            print(f"progress sent={seq} received={len(answered_at)}", flush=True)
            next_progress += 0.1
    # Replies still in flight for the last ~200 ms of probes are not losses.
    cutoff = time.monotonic() - 0.2
    judged = [s for s in range(seq) if sent_at[s] <= cutoff]
    lost = [s for s in judged if s not in answered_at]
    print(json.dumps({"sent": len(judged), "received": len(judged) - len(lost), "lost": len(lost),
                      "loss_window_ms": round(loss_window(judged, lost, sent_at, count, interval) * 1000, 1),
                      "flows": count, "interval_ms": interval_ms}), flush=True)
    return 0


def loss_window(judged: list[int], lost: list[int], sent_at: dict[int, float], flows: int, interval: float) -> float:
    """Longest time any one flow delivered nothing: from its first lost probe to its next delivered one."""
    lost_set = set(lost)
    worst = 0.0
    for flow in range(flows):
        run_start = None
        for s in judged:
            if s % flows != flow:
                continue
            if s in lost_set:
                if run_start is None:
                    run_start = sent_at[s]
            elif run_start is not None:
                worst = max(worst, sent_at[s] - run_start)
                run_start = None
        if run_start is not None:
            worst = max(worst, sent_at[judged[-1]] - run_start + interval)
    return worst


def probe(dsts: list[str], port: int, interval_ms: float, limit: float, sport: int) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", sport))
    sock.setblocking(False)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    out = sys.stdout
    out.write(f"ready probe dsts={','.join(dsts)} interval_ms={interval_ms:g} limit={limit:g}\n")
    out.flush()
    interval = interval_ms / 1000.0
    seq = 0
    start = time.monotonic()
    next_send = next_flush = start
    while not stop and time.monotonic() - start < limit:
        now = time.monotonic()
        if now >= next_send:
            stamp = time.time()
            for dst in dsts:
                try:
                    sock.sendto(MAGIC + str(seq).encode(), (dst, port))
                except OSError:
                    pass  # no route right now (a fault): the probe is lost, which is the point
                out.write(f"s {stamp:.6f} {dst} {seq}\n")
            seq += 1
            next_send += interval
            if next_send < now:  # we fell behind (busy host): skip, never burst
                next_send = now + interval
        timeout = max(0.0, min(next_send, next_flush) - time.monotonic())
        ready, _, _ = select.select([sock], [], [], timeout)
        while ready:
            try:
                data, addr = sock.recvfrom(2048)
            except BlockingIOError:
                break
            if data.startswith(MAGIC):
                out.write(f"r {time.time():.6f} {addr[0]} {data[len(MAGIC):].decode(errors='replace')}\n")
        if time.monotonic() >= next_flush:
            out.flush()  # a reader (status, a scenario step) sees at most ~100 ms old data
            next_flush += 0.1
    out.write(f"end {time.time():.6f} sent={seq}\n")
    out.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("echo", help="UDP echo responder")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seconds", type=float, default=120.0, help="exit after this long at the latest")
    for name in ("flows", "stream"):
        p = sub.add_parser(name)
        p.add_argument("--dst", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--flows", type=int, default=64)
        p.add_argument("--base-sport", type=int, default=41000)
        if name == "flows":
            p.add_argument("--timeout", type=float, default=3.0)
        else:
            p.add_argument("--interval-ms", type=float, default=5.0)
    p = sub.add_parser("probe", help="sequence-numbered probes, one log line per probe and per echo")
    p.add_argument("--dst", required=True, help="comma-separated destination addresses")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--interval-ms", type=float, default=20.0)
    p.add_argument("--limit", type=float, default=600.0, help="stop after this many seconds at the latest")
    p.add_argument("--sport", type=int, default=43000)
    args = parser.parse_args(argv)
    if args.cmd == "probe":
        return probe(args.dst.split(","), args.port, args.interval_ms, args.limit, args.sport)
    if args.cmd == "echo":
        return echo(args.port, args.seconds)
    if args.cmd == "flows":
        return flows(args.dst, args.port, args.flows, args.base_sport, args.timeout)
    return stream(args.dst, args.port, args.flows, args.base_sport, args.interval_ms)


if __name__ == "__main__":
    sys.exit(main())
