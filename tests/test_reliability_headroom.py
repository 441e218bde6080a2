"""Head-room on the shared host (issue 11, item 10): the kernel's neighbour table (one for all
namespaces, gc_thresh3), open files; `lab.doctor` reports them, `up` refuses a lab that does
not fit before it creates anything, a failed `up` names a neighbour-table overflow."""

from __future__ import annotations

import dataclasses
import io
import re
import resource
from pathlib import Path

import pytest

from lab import headroom as h
from lab.commands import lab as cmd
from lab.commands.doctor import netns_needs
from lab.doctor import MISSING, OK, WARN, HostProbes, run_doctor
from lab.errors import DaemonError, EnvironmentProblem, LabError
from lab.loader import load_topology
from lab.providers.netns import netlink
from lab.providers.netns.blueprint import build_blueprint, lab_prefix
from lab.providers.netns.provider import RUN_ROOT, NetnsProvider
from netns_helpers import requires_netns, unique

ARP_HEADER = ("entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast "
              "rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls")


def fake_proc(root: Path, entries: int, thresh: int, fulls: int = 0) -> Path:
    """The two files read_host_limits reads, as the kernel writes them (hex counters)."""
    (root / "net/stat").mkdir(parents=True, exist_ok=True)
    values = [entries, 8203, 9962, 6, 107135, 37992, 0, 0, 0, 0, 1, 105, fulls]
    (root / "net/stat/arp_cache").write_text(ARP_HEADER + "\n" + " ".join(f"{v:08x}" for v in values) + "\n")
    (root / "sys/net/ipv4/neigh/default").mkdir(parents=True, exist_ok=True)
    (root / "sys/net/ipv4/neigh/default/gc_thresh3").write_text(f"{thresh}\n")
    return root


def limits(entries=100, thresh=1024, fulls=0, soft=1024, hard=4096) -> h.HostLimits:
    return h.HostLimits(entries, thresh, fulls, soft, hard)


def with_dynamic(n: int = 28):
    """The reference lab's blueprint as if `n` session peers had no permanent entry (an
    external peerIP the lab does not own stays dynamic): the shipped labs need none."""
    bp = build_blueprint(load_topology("calico-bgp-rr"))
    return dataclasses.replace(bp, dynamic_neighbours=tuple((f"ns{i % 3}", f"10.9.0.{i}") for i in range(n)))


def test_the_kernel_files_are_read(tmp_path):
    got = h.read_host_limits(fake_proc(tmp_path, 0x2a, 1024, 3), rlimit=lambda _: (1024, 524288))
    assert got == h.HostLimits(42, 1024, 3, 1024, 524288) and got.neigh_free == 982


def test_missing_kernel_files_mean_unknown_and_refuse_nothing(tmp_path):
    got = h.read_host_limits(tmp_path, rlimit=lambda _: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert (got.neigh_entries, got.gc_thresh3, got.neigh_free) == (None, None, None)
    h.require(build_blueprint(load_topology("calico-bgp-rr")), got, set_soft=lambda soft: pytest.fail("raised"))


def test_this_host_is_read_like_ip_ntable_shows_it():
    got = h.read_host_limits()
    text = Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3").read_text()
    assert got.gc_thresh3 == int(text) and got.neigh_entries is not None and got.neigh_entries >= 0
    assert (got.nofile_soft, got.nofile_hard) == resource.getrlimit(resource.RLIMIT_NOFILE)


def test_the_reference_lab_needs_no_dynamic_neighbour_entry():
    needs = h.lab_needs(build_blueprint(load_topology("calico-bgp-rr")))
    # Every session peer, gateway and pod has a permanent entry (neighbours.py): none is dynamic.
    assert needs.neighbours == 0
    namespaces = 2 + 4 + 4 + 4  # bridges, routers, nodes, pods
    assert needs.namespaces == namespaces
    assert needs.open_files == h.FDS_BASE + h.FDS_PER_NAMESPACE * namespaces
    assert needs.busiest in ("leaf0", "leaf1") and needs.busiest_peers == 4


def test_a_blueprint_with_permanent_entries_counts_only_what_stays_dynamic():
    bp = build_blueprint(load_topology("calico-bgp-rr"))

    class WithPermanent:
        def __init__(self, bp):
            self.__dict__.update(bp.__dict__)
            self.dynamic_neighbours = (("ns", "10.0.0.1"), ("ns", "10.0.0.1"), ("ns", "10.0.0.2"))

    assert h.lab_needs(WithPermanent(bp)).neighbours == 2


@pytest.mark.parametrize("entries,thresh", [(100, 16), (0, 27), (5000, 20)])
def test_up_refuses_a_lab_that_cannot_fit_even_an_empty_neighbour_table(entries, thresh):
    bp = with_dynamic(28)
    with pytest.raises(EnvironmentProblem) as err:
        h.require(bp, limits(entries, thresh), set_soft=lambda soft: None)
    message = str(err.value)
    assert "needs 28 dynamic entries" in message and f"gc_thresh3 is {thresh} for all namespaces" in message
    assert re.search(r"sysctl -w net\.ipv4\.neigh\.default\.gc_thresh3=\d+", message) and "\n" not in message
    wanted = int(re.search(r"gc_thresh3=(\d+) \(", message).group(1))
    assert wanted >= entries + 28 and wanted & (wanted - 1) == 0


@pytest.mark.parametrize("entries,thresh,note", [(100, 1024, False), (996, 1024, False), (997, 1024, True),
                                                 (6000, 1024, True), (0, 28, False)])
def test_a_lab_that_may_not_fit_beside_other_labs_gets_a_note_not_a_refusal(entries, thresh, note):
    """The kernel's count includes permanent entries, which do not count against gc_thresh3
    (another lab may hold thousands): refusing on it would refuse labs that fit."""
    notes = h.require(with_dynamic(28), limits(entries, thresh), set_soft=lambda soft: None)
    assert bool(notes) == note, notes
    if note:
        assert f"holds {entries} of net.ipv4.neigh.default.gc_thresh3={thresh} (permanent ones included" in notes[0]
        assert "if sessions stay in Connect, raise it in the host namespace: sysctl -w" in notes[0]


def test_open_files_beyond_the_hard_limit_are_refused_below_it_the_soft_limit_is_raised():
    bp = build_blueprint(load_topology("calico-bgp-rr"))  # about 120
    with pytest.raises(EnvironmentProblem, match=r"needs about 120 open files .* hard limit is 100: raise it"):
        h.require(bp, limits(soft=50, hard=100), set_soft=lambda soft: pytest.fail("raised"))
    raised = []
    h.require(bp, limits(soft=50, hard=100000), set_soft=raised.append)
    assert raised == [128]
    h.require(bp, limits(soft=1024), set_soft=lambda soft: pytest.fail("enough already"))


def test_the_soft_limit_is_raised_for_this_process_only(monkeypatch):
    calls = []
    monkeypatch.setattr(resource, "setrlimit", lambda what, value: calls.append((what, value)))
    h._set_soft(4096)
    assert calls == [(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))]


def test_an_overflow_during_up_is_named():
    assert h.overflow_hint(limits(fulls=3), limits(fulls=3)) is None
    hint = h.overflow_hint(limits(fulls=3), limits(entries=1024, fulls=7))
    assert "overflowed during `up` (4 times; 1024 entries, net.ipv4.neigh.default.gc_thresh3=1024)" in hint


def test_doctor_reports_the_head_room_and_a_lab_that_does_not_fit(tmp_path):
    topo = load_topology("calico-bgp-rr")
    needs = h.lab_needs(with_dynamic(28))
    lines, verdicts = run_doctor("netns", topology=topo, needs=needs, probes=HostProbes(limits=lambda: limits(10, 16, fulls=2)))
    (neigh,) = [ln for ln in lines if "neighbour table" in ln]
    assert neigh.startswith(MISSING) and "10 of 16 entries in use by all namespaces" in neigh
    assert "calico-bgp-rr needs 28 dynamic ones" in neigh and "full 2 times" in neigh
    assert "sysctl -w net.ipv4.neigh.default.gc_thresh3=64" in neigh and verdicts["netns"] is False
    lines, verdicts = run_doctor("netns", topology=topo, needs=needs, probes=HostProbes(limits=lambda: limits(1010, 1024)))
    (neigh,) = [ln for ln in lines if "neighbour table" in ln]
    assert neigh.startswith(WARN) and "sysctl -w net.ipv4.neigh.default.gc_thresh3=2048" in neigh
    assert verdicts["netns"] is True
    lines, _ = run_doctor("netns", topology=topo, needs=needs, probes=HostProbes(limits=lambda: limits(10, 1024, soft=1024, hard=1024)))
    (neigh,) = [ln for ln in lines if "neighbour table" in ln]
    (files,) = [ln for ln in lines if "open files" in ln]
    assert neigh.startswith(OK) and "10 of 1024 entries" in neigh
    assert files.startswith(OK) and "needs about 120" in files
    lines, verdicts = run_doctor("netns", topology=topo, needs=needs, probes=HostProbes(limits=lambda: limits(soft=64, hard=100)))
    (files,) = [ln for ln in lines if "open files" in ln]
    assert files.startswith(MISSING) and "hard limit is 100" in files and verdicts["netns"] is False


def test_doctor_on_this_host():
    topo = load_topology("calico-bgp-rr")
    lines, _ = run_doctor("netns", topology=topo, needs=netns_needs(topo))
    (neigh,) = [ln for ln in lines if "neighbour table" in ln]
    thresh = int(Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3").read_text())
    assert re.search(rf"\d+ of {thresh} entries in use by all namespaces \(permanent ones included, which do not "
                     rf"count\); calico-bgp-rr needs 0 dynamic ones", neigh), neigh  # all peers permanent


@requires_netns
def test_up_that_does_not_fit_creates_nothing(monkeypatch):
    name = unique("rel-room")
    # The shipped labs need no dynamic neighbour entry; the open-files limit refuses one.
    monkeypatch.setattr(h, "read_host_limits", lambda *a, **k: limits(0, 20, soft=64, hard=100))
    with pytest.raises(LabError, match="hard limit is 100.*nothing was created"):
        cmd.up("calico-bgp-rr", "netns", name, out=io.StringIO())
    assert not (RUN_ROOT / name).exists() and not netlink.list_netns(lab_prefix(name))


@requires_netns
def test_a_failed_up_names_a_neighbour_table_overflow(monkeypatch):
    readings = iter([limits(fulls=5), limits(entries=1024, fulls=9)])
    monkeypatch.setattr(h, "read_host_limits", lambda *a, **k: next(readings))

    def stuck(self, out):
        raise DaemonError("not converged after 30s: 3 of 8 sessions Established")

    monkeypatch.setattr(NetnsProvider, "up", stuck)
    out = io.StringIO()
    with pytest.raises(DaemonError):
        cmd.up("calico-bgp-rr", "netns", unique("rel-ovfl"), out=out)
    assert "note: the kernel's neighbour table overflowed during `up` (4 times" in out.getvalue()
