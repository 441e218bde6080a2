"""The netns provider's building blocks on real namespaces and real daemons.

A tiny lab built by hand with the primitives alone (no topology, no renderer):

    r1 (FRR, AS 65001) eth1 10.0.12.1/24 ── veth ── eth1 10.0.12.2/24 r2 (FRR, AS 65002, lo 192.0.2.2/32)
    r1 eth2 10.0.5.1/24 ── br0 (bridge in its own namespace) ── eth0 10.0.5.10/24 n1 (BIRD, AS 65001)

n1 announces 10.244.1.0/26 (Calico-style blackhole block) to r1 (iBGP, route-reflector client,
next-hop-self), r1 passes it to r2 (eBGP); r2 announces its loopback back. Then: the routes
are in the kernels, n1 pings r2's loopback, a kill -9 at every stage of building leaves a state
that teardown cleans, and the host's own addresses, routes and links never change.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from netns_helpers import host_snapshot

from lab import preflight
from lab.errors import DaemonError, EnvironmentProblem, LabError
from lab.exec import NetnsAccess, proc_starttime
from lab.providers.netns import netlink, procs
from lab.providers.netns.daemons import FRR_TMP, BirdNode, FrrRouter
from lab.providers.netns.state import LabState, teardown

NEEDED = ("ip", "zebra", "bgpd", "vtysh", "bird", "birdc", "ping", "tcpdump")
REPO = Path(__file__).resolve().parent.parent


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: creates network namespaces and starts FRR/BIRD (run pytest as root)"
    missing = [b for b in NEEDED if preflight.find_binary(b) is None]
    if missing:
        return preflight.missing_message(missing)
    return None


def needs_root(test):
    """Skip without root and the daemons; mark `netns` (a real-namespace test, deselected by `-m "not netns"`)."""
    return pytest.mark.netns(pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")(test))

ZEBRA = "hostname {name}\nno zebra nexthop kernel enable\n"
R1_BGPD = """hostname r1
router bgp 65001
 bgp router-id 10.0.12.1
 no bgp ebgp-requires-policy
 timers bgp 1 3
 coalesce-time 100
 neighbor 10.0.12.2 remote-as 65002
 neighbor 10.0.12.2 timers connect 1
 neighbor 10.0.5.10 remote-as 65001
 neighbor 10.0.5.10 timers connect 1
 address-family ipv4 unicast
  network 10.0.5.0/24
  neighbor 10.0.5.10 route-reflector-client
  neighbor 10.0.5.10 next-hop-self
 exit-address-family
"""
R2_BGPD = """hostname r2
router bgp 65002
 bgp router-id 10.0.12.2
 no bgp ebgp-requires-policy
 timers bgp 1 3
 coalesce-time 100
 neighbor 10.0.12.1 remote-as 65001
 neighbor 10.0.12.1 timers connect 1
 address-family ipv4 unicast
  network 192.0.2.2/32
 exit-address-family
"""
N1_BIRD = """router id 10.0.5.10;
protocol device { scan time 10; }
protocol direct { interface "eth0"; }
protocol kernel { persist no; scan time 10; import none; export where source = RTS_BGP; }
protocol static pool { route 10.244.1.0/26 blackhole; }
protocol bgp r1 {
  local 10.0.5.10 as 65001;
  neighbor 10.0.5.1 as 65001;
  hold time 3; keepalive time 1; connect delay time 1; connect retry time 1;
  import all;
  export where proto = "pool";
}
"""


def ns_names(prefix: str) -> dict[str, str]:
    return {t: prefix + t for t in ("r1", "r2", "br", "n1")}


def build_tiny_lab(prefix: str, run_dir: Path, state: LabState,
                   hook: Callable[[str], None] = lambda point: None) -> dict:
    """Everything a provider does, by hand: record, create, wire, configure, start, wait.

    `hook(point)` is called at each stage (the crash test kills the process there).
    """
    ns = ns_names(prefix)
    for target in ("r1", "r2", "br", "n1"):
        state.record_netns(ns[target])  # intent first
        hook("netns-intent")
        netlink.create_netns(ns[target])
        hook("netns-created")
    netlink.add_veth(ns["r1"], "eth1", ns["r2"], "eth1", up=True)  # the same name on both ends
    netlink.add_veth(ns["r1"], "eth2", ns["br"], "p-r1", up=True)
    netlink.add_veth(ns["n1"], "eth0", ns["br"], "p-n1", mac_a="02:00:00:00:05:0a", up=True)
    netlink.add_bridge(ns["br"], "br0", ["p-r1", "p-n1"], up=True)
    for target, ifname, cidr in (("r1", "eth1", "10.0.12.1/24"), ("r2", "eth1", "10.0.12.2/24"),
                                 ("r2", "lo", "192.0.2.2/32"), ("r1", "eth2", "10.0.5.1/24"),
                                 ("n1", "eth0", "10.0.5.10/24")):
        netlink.add_address(ns[target], ifname, cidr)
    for target in ("r1", "r2", "n1"):
        netlink.set_sysctls(ns[target], netlink.FORWARDING_SYSCTLS)
    hook("links")
    routers = [FrrRouter(t, ns[t], run_dir / t, ZEBRA.format(name=t), conf)
               for t, conf in (("r1", R1_BGPD), ("r2", R2_BGPD))]
    bird = BirdNode("n1", ns["n1"], run_dir / "n1", N1_BIRD)
    for daemon in (*routers, bird):
        daemon.check()
    deadline = time.monotonic() + 10
    for router in routers:
        router.start_zebra(state)
    for router in routers:
        router.start_bgpd(state, deadline)
    hook("frr-started")
    bird.start(state)
    hook("bird-started")
    for daemon in (*routers, bird):
        daemon.wait_ready(deadline)
    state.set_meta(phase="up")
    hook("ready")
    return {"ns": ns, "r1": routers[0], "r2": routers[1], "n1": bird}


def poll_until(probe: Callable[[], object], deadline: float, what: str, interval: float = 0.05):
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"{what} not reached within {deadline}s (last: {value!r})")
        time.sleep(interval)


def ip_json(ns: str, *args: str) -> list:
    out = subprocess.run(["ip", "-n", ns, "-j", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")


def leftovers(prefix: str, run_dir: Path, pids: list[int], frr_tmpdirs: list[str]) -> list[str]:
    left = [f"netns {n}" for n in netlink.list_netns(prefix)]
    left += [f"process {p}" for p in pids if Path(f"/proc/{p}").exists()
             and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    left += [f"dir {d}" for d in (run_dir, *map(Path, frr_tmpdirs)) if d.exists()]
    return left


# -- the tiny lab, end to end --------------------------------------------------------------

@needs_root
def test_tiny_lab_sessions_routes_ping_and_clean_teardown(prim_lab):
    prefix, run_dir, state = prim_lab
    before = host_snapshot()
    tmp_before = set(os.listdir(FRR_TMP)) if FRR_TMP.exists() else set()
    started = time.monotonic()
    lab = build_tiny_lab(prefix, run_dir, state)
    ns, r1, r2, n1 = lab["ns"], lab["r1"], lab["r2"], lab["n1"]

    # Every recorded process is the daemon itself (ip netns exec execs), inside its namespace.
    records = LabState(state.path).processes()
    assert [r["role"] for r in records] == ["zebra:r1", "zebra:r2", "bgpd:r1", "bgpd:r2", "bird:n1"]
    for rec in records:
        assert proc_starttime(rec["pid"]) == rec["starttime"]
        assert os.readlink(f"/proc/{rec['pid']}/exe") == rec["argv"][0]
        assert os.stat(f"/proc/{rec['pid']}/ns/net").st_ino == os.stat(netlink.NETNS_DIR / rec["netns"]).st_ino
        assert rec["pid"] in procs.pids_in_netns(rec["netns"])
        # None of them keeps root: FRR drops to frr, BIRD (-u bird) to bird.
        uid = int(Path(f"/proc/{rec['pid']}/status").read_text().split("Uid:")[1].split()[1])
        assert uid == pwd.getpwnam("bird" if rec["role"].startswith("bird") else "frr").pw_uid

    def established() -> bool:
        peers = {**json.loads(r1.vty("bgpd", "show bgp summary json"))["ipv4Unicast"]["peers"],
                 **json.loads(r2.vty("bgpd", "show bgp summary json"))["ipv4Unicast"]["peers"]}
        return (len(peers) == 3 and all(p["state"] == "Established" for p in peers.values())
                and "Established" in n1.birdc("show protocols r1"))

    poll_until(established, 15, "all three BGP sessions Established")
    sessions_at = time.monotonic() - started

    def r2_has_block():
        return [r for r in ip_json(ns["r2"], "route") if r["dst"] == "10.244.1.0/26"]

    (route,) = poll_until(r2_has_block, 10, "10.244.1.0/26 in r2's kernel")
    assert route["gateway"] == "10.0.12.1" and route["protocol"] == "bgp"
    (back,) = poll_until(lambda: [r for r in ip_json(ns["n1"], "route") if r["dst"] == "192.0.2.2"], 10,
                         "192.0.2.2 in n1's kernel")
    assert back["gateway"] == "10.0.5.1" and back["protocol"] == "bird"
    poll_until(lambda: [r for r in ip_json(ns["r2"], "route") if r["dst"] == "10.0.5.0/24"], 10,
               "the rack subnet 10.0.5.0/24 in r2's kernel (the way back)")
    routes_at = time.monotonic() - started
    # `no zebra nexthop kernel enable`: routes carry their next hops inline, no kernel nexthop objects.
    assert "no zebra nexthop kernel enable" in r2.vtysh("show running-config")
    assert "10.244.1.0/26" in r2.vty("zebra", "show ip route bgp")
    with pytest.raises(DaemonError, match=r"bgpd of r2 refused 'show nonsense' \(status 2\)"):
        r2.vty("bgpd", "show nonsense")
    assert ip_json(ns["r2"], "nexthop") == []

    access = NetnsAccess(netns=ns, birdc_sockets={"n1": n1.socket}, vty_dirs={"r1": r1.vty_dir, "r2": r2.vty_dir})
    capture = access.spawn("r2", ["tcpdump", "-l", "-n", "-i", "eth1", "icmp"], log_path=run_dir / "tcpdump.log")
    poll_until(lambda: "listening on" in (run_dir / "tcpdump.log").read_text(), 5, "tcpdump listening")
    ping = poll_until(lambda: access.exec("n1", ["ping", "-c", "1", "-W", "1", "192.0.2.2"]).ok and True, 5,
                      "ping n1 -> 192.0.2.2")
    assert ping
    pinged_at = time.monotonic() - started
    poll_until(lambda: "ICMP echo request" in (run_dir / "tcpdump.log").read_text(), 5, "the ping in tcpdump")
    result = capture.stop()
    assert not capture.alive() and "ICMP echo request" in result.stdout

    assert "BIRD 1.6" in access.birdc("n1", "show status")  # from the host namespace
    assert "FRRouting" in access.vtysh("r1", "show version")
    assert r1.vtysh_argv("show version")[-2:] == ["-c", "show version"]
    assert "10.244.1.0/26" in access.exec("r2", r2.vtysh_argv("show ip route bgp"), check=True).stdout
    with pytest.raises(LabError, match="failed \\(rc 1\\)"):
        access.exec("r2", ["false"], check=True)
    n1.reload()  # same config: BIRD says "Reconfigured"

    pids = [r["pid"] for r in records]
    # FRR's own /var/tmp/frr/<daemon>.<pid> (unless a stale one of an earlier process had the PID).
    frr_tmpdirs = [r["tmpdir"] for r in records if r.get("tmpdir") and Path(r["tmpdir"]).name not in tmp_before]
    assert all(Path(d).is_dir() for d in frr_tmpdirs)
    netlink.close_all()
    summary = teardown(LabState(state.path))
    assert summary.startswith("5 processes stopped, 4 namespaces deleted")
    assert leftovers(prefix, run_dir, pids, frr_tmpdirs) == []
    assert teardown(LabState(state.path)) == "nothing to remove (no state file)"  # idempotent
    assert host_snapshot() == before
    print(f"\ntiny lab: sessions Established after {sessions_at:.2f}s, routes after {routes_at:.2f}s, "
          f"first ping after {pinged_at:.2f}s")


# -- crash safety --------------------------------------------------------------------------

CHILD = """
import os, signal, sys
sys.path[:0] = [{repo!r}, {tests!r}]
from pathlib import Path
from lab.providers.netns.state import LabState
from test_netns_primitives import build_tiny_lab

point = {point!r}
state = LabState({state!r})
if point == "unrecorded-process":
    # Die after the daemon started but before its record was written.
    LabState.record_process = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
def hook(where):
    if where == point:
        os.kill(os.getpid(), signal.SIGKILL)
build_tiny_lab({prefix!r}, Path({run_dir!r}), state, hook)
print("finished without being killed")
"""


@needs_root
@pytest.mark.parametrize("point", ["netns-intent", "netns-created", "links", "unrecorded-process",
                                   "frr-started", "ready"])
def test_kill_minus_nine_at_any_point_then_teardown_removes_everything(prim_lab, point):
    prefix, run_dir, state = prim_lab
    before = host_snapshot()
    tmp_before = set(os.listdir(FRR_TMP)) if FRR_TMP.exists() else set()
    code = CHILD.format(repo=str(REPO), tests=str(REPO / "tests"), point=point, state=str(state.path),
                        prefix=prefix, run_dir=str(run_dir))
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    recorded = LabState(state.path)
    pids = [p["pid"] for p in recorded.processes()]
    in_ns = [pid for name in recorded.namespaces() for pid in procs.pids_in_netns(name)]
    if point in ("frr-started", "ready"):
        assert pids and all(procs.pid_alive(p["pid"], p["starttime"]) for p in recorded.processes())
    if point == "unrecorded-process":
        assert not pids and in_ns, "the unrecorded zebra should be running in r1's namespace"
    summary = teardown(recorded)
    assert leftovers(prefix, run_dir, pids + in_ns, []) == [], summary
    # FRR's /var/tmp/frr/<daemon>.<pid> of every daemon this test started is gone too.
    mine = {str(p) for p in pids + in_ns}
    new = set(os.listdir(FRR_TMP)) - tmp_before if FRR_TMP.exists() else set()
    assert [d for d in new if d.rsplit(".", 1)[-1] in mine] == []
    assert host_snapshot() == before


# -- smaller contracts ---------------------------------------------------------------------

def test_teardown_of_a_missing_state_is_a_noop(tmp_path):
    assert teardown(tmp_path / "nope" / "state.json") == "nothing to remove (no state file)"
    assert not (tmp_path / "nope").exists()


@needs_root
def test_stop_refuses_a_pid_whose_starttime_differs(prim_lab):
    prefix, run_dir, state = prim_lab
    state.record_netns(prefix + "p")
    netlink.create_netns(prefix + "p")
    proc = procs.start(state, prefix + "p", ["sleep", "30"], log_path=run_dir / "sleep.log", role="sleep")
    assert procs.pid_alive(proc.pid, proc.starttime)
    assert procs.stop(proc.pid, proc.starttime + 1, deadline=0.5) is False
    assert procs.pid_alive(proc.pid, proc.starttime), "a PID with another start time must not be signalled"
    assert procs.stop(proc.pid, None) is False and procs.pid_alive(proc.pid, proc.starttime)
    t0 = time.monotonic()
    assert proc.stop() is True
    assert time.monotonic() - t0 < 1.0  # woken by the exit, not by a poll interval
    assert not proc.alive() and procs.stop(proc.pid, proc.starttime) is False
    rec = LabState(state.path).processes()[0]
    assert (rec["pid"], rec["starttime"], rec["argv"], rec["netns"]) == (proc.pid, proc.starttime, ["sleep", "30"],
                                                                         prefix + "p")


@needs_root
def test_broken_configs_raise_daemon_error_with_the_daemons_message(monkeypatch):
    from lab.providers.netns import daemons

    work = Path(f"/tmp/flprim-conf-{os.getpid()}")
    dry_runs: list[str] = []
    original = daemons._remove_dry_run_tmpdir

    def remove(daemon, pid):
        dry_runs.append(f"{daemon}.{pid}")
        original(daemon, pid)

    monkeypatch.setattr(daemons, "_remove_dry_run_tmpdir", remove)
    try:
        bad_bgpd = R2_BGPD.replace(" timers bgp 1 3", " timerz bgp 1 3")
        with pytest.raises(DaemonError, match=r"bgpd of r2 refuses its configuration: .*"
                                              r"No such command on config line 5:\s+timerz bgp 1 3"):
            FrrRouter("r2", "unused", work / "r2", ZEBRA.format(name="r2"), bad_bgpd).check()
        with pytest.raises(DaemonError, match="zebra of r2 refuses its configuration: .*"
                                              "No such command on config line 2: zebra nexthop kernel disable"):
            FrrRouter("r2", "unused", work / "r2", "hostname r2\nzebra nexthop kernel disable\n", R2_BGPD).check()
        FrrRouter("r2", "unused", work / "r2", ZEBRA.format(name="r2"), R2_BGPD).check()  # the good one passes
        with pytest.raises(DaemonError, match=r"BIRD of n1 refuses its configuration: .*bird.conf:6:\d+ .*"):
            BirdNode("n1", "unused", work / "n1", N1_BIRD.replace("protocol bgp r1", "protocol bgpx r1")).check()
    finally:
        subprocess.run(["rm", "-rf", "--", str(work)], check=True)
    # FRR leaves /var/tmp/frr/<daemon>.<pid> behind after a dry run; check() removes it.
    assert len(dry_runs) == 5 and not [d for d in dry_runs if (FRR_TMP / d).exists()]


@needs_root
def test_a_daemon_that_dies_at_start_fails_fast_with_its_log(prim_lab):
    prefix, run_dir, state = prim_lab
    state.record_netns(prefix + "d")
    netlink.create_netns(prefix + "d")
    # Parses fine, but cannot bind its control socket: BIRD exits at once.
    node = BirdNode("n9", prefix + "d", run_dir / "n9", N1_BIRD)
    node.socket.parent.mkdir(parents=True)
    node.socket.mkdir()
    node.start(state)
    t0 = time.monotonic()
    with pytest.raises(DaemonError, match="BIRD of n9: bird:n9 exited while starting; log .*bird.log: .*"):
        node.wait_ready(time.monotonic() + 10)
    assert time.monotonic() - t0 < 2


def test_require_binaries_names_the_package(monkeypatch):
    monkeypatch.setattr(preflight, "find_binary", lambda name: None if name in ("bgpd",) else "/bin/true")
    with pytest.raises(EnvironmentProblem) as info:
        preflight.require_binaries(["zebra", "bgpd", "birdc"])
    assert str(info.value) == ("bgpd not found (looked in /usr/lib/frr, /usr/sbin, PATH): "
                               "install it with `apt-get install -y frr`")
    monkeypatch.setattr(preflight, "find_binary", lambda name: None)
    with pytest.raises(EnvironmentProblem) as info:
        preflight.require_binaries(["bird", "tcpdump", "ping", "ip", "vtysh"])
    assert "install them with `apt-get install -y bird frr iproute2 iputils-ping tcpdump`" in str(info.value)
    assert "\n" not in str(info.value)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem, match="must run as root"):
        preflight.require_root()


# -- netlink details -----------------------------------------------------------------------

@needs_root
def test_netlink_objects_land_in_their_namespaces_only(prim_lab):
    prefix, run_dir, state = prim_lab
    a, b = prefix + "a", prefix + "b"
    host_sysctls = {k: Path("/proc/sys", *k.split(".")).read_text() for k in netlink.FORWARDING_SYSCTLS}
    # A socket subscribed to the host's link events: anything created in the host, even for a
    # moment, would show up here.
    RTMGRP_LINK = 1
    monitor = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    monitor.bind((0, RTMGRP_LINK))
    try:
        for name in (a, b):
            state.record_netns(name)
            netlink.create_netns(name)
        t0 = time.monotonic()
        netlink.add_veth(a, "eth1", b, "eth1", mac_a="02:00:00:00:00:0a", mac_b="02:00:00:00:00:0b")
        netlink.add_veth(a, "cali0123456789", b, "eth2")
        netlink.add_bridge(b, "br0", ["eth2"])
        netlink.add_address(a, "eth1", "10.9.0.1/24")
        netlink.add_address(b, "eth1", "10.9.0.2/24")
        netlink.set_sysctls(a, {**netlink.FORWARDING_SYSCTLS, **netlink.proxy_arp_sysctls("cali0123456789")})
        netlink.set_all_up(a)
        netlink.set_all_up(b)
        netlink.add_route(a, "10.8.0.0/24", gateway="10.9.0.2")
        netlink.add_route(a, "169.254.1.1/32", dev="cali0123456789", scope_link=True)
        netlink.add_route(a, "10.244.0.0/26", blackhole=True)
        netlink.add_route(b, "10.7.0.0/24", nexthops=[{"gateway": "10.9.0.1", "dev": "eth1"}, {"gateway": "10.9.0.3"}])
        netlink.add_neighbour(b, "eth1", "10.9.0.3", "02:00:00:00:00:0c")
        netlink.set_mac(b, "br0", "02:00:00:00:00:bb")
        built = time.monotonic() - t0
        with pytest.raises(BlockingIOError):
            monitor.recv(65536, socket.MSG_DONTWAIT)
    finally:
        monitor.close()
    assert built < 0.5

    links_a = {link["ifname"]: link for link in ip_json(a, "link")}
    links_b = {link["ifname"]: link for link in ip_json(b, "link")}
    assert set(links_a) == {"lo", "eth1", "cali0123456789"} and set(links_b) == {"lo", "eth1", "eth2", "br0"}
    assert links_a["eth1"]["address"] == "02:00:00:00:00:0a" and links_b["eth1"]["address"] == "02:00:00:00:00:0b"
    assert links_b["eth2"]["master"] == "br0" and links_b["br0"]["address"] == "02:00:00:00:00:bb"
    # The two ends of a pair never share an index (else the kernel applies carrier up to 1 s late).
    assert links_a["eth1"]["ifindex"] != links_b["eth1"]["ifindex"]
    routes_a = {r["dst"]: r for r in ip_json(a, "route")}
    assert routes_a["10.8.0.0/24"]["gateway"] == "10.9.0.2"
    assert routes_a["169.254.1.1"]["scope"] == "link" and routes_a["169.254.1.1"]["dev"] == "cali0123456789"
    assert routes_a["10.244.0.0/26"]["type"] == "blackhole"
    (multi,) = [r for r in ip_json(b, "route") if r["dst"] == "10.7.0.0/24"]
    assert sorted(h["gateway"] for h in multi["nexthops"]) == ["10.9.0.1", "10.9.0.3"]
    (neigh,) = [n for n in ip_json(b, "neigh") if n["dst"] == "10.9.0.3"]
    assert neigh["lladdr"] == "02:00:00:00:00:0c" and neigh["state"] == ["PERMANENT"]

    assert netlink.read_sysctl(a, "net.ipv4.fib_multipath_hash_policy") == "1"
    assert netlink.read_sysctl(a, "net.ipv4.ip_forward") == "1"
    assert netlink.read_sysctl(a, "net.ipv4.conf.all.rp_filter") == "0"
    assert netlink.read_sysctl(a, "net.ipv4.neigh.cali0123456789.proxy_delay") == "0"
    assert netlink.read_sysctl(b, "net.ipv4.fib_multipath_hash_policy") == "0"  # a fresh namespace's default
    assert {k: Path("/proc/sys", *k.split(".")).read_text() for k in host_sysctls} == host_sysctls
    with pytest.raises(LabError, match="not a per-namespace network setting"):
        netlink.set_sysctls(a, {"net.core.netdev_max_backlog": "10"})
    with pytest.raises(LabError, match="not a per-namespace network setting"):
        netlink.set_sysctls(a, {"kernel.hostname": "x"})
    with pytest.raises(LabError, match="does not exist"):
        netlink.set_sysctls(prefix + "missing", {"net.ipv4.ip_forward": "1"})
    assert not netlink.netns_exists(prefix + "missing")  # and was not created by asking

    # Carrier arrives at once (different indexes), so the first ping works without a wait.
    t0 = time.monotonic()
    poll_until(lambda: netlink.link_info(a, "eth1")["carrier"], 0.5, "carrier on eth1", interval=0.005)
    assert subprocess.run(["ip", "netns", "exec", a, "ping", "-c", "1", "-W", "1", "10.9.0.2"],
                          capture_output=True).returncode == 0
    assert time.monotonic() - t0 < 0.5

    netlink.delete_link(a, "cali0123456789")  # takes its peer eth2 in b with it
    assert "eth2" not in netlink.links(b)
    assert netlink.delete_netns(a) is True and netlink.delete_netns(a) is False
    with pytest.raises(LabError, match="already exists"):
        netlink.create_netns(b)
    with pytest.raises(LabError, match="not a valid namespace name"):
        netlink.create_netns("../etc")
    with pytest.raises(LabError, match="not a valid interface name"):
        netlink.add_veth(b, "much-too-long-name", b, "x")
