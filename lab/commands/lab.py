"""The lab lifecycle commands behind `invoke lab.*`, independent of Invoke.

Each returns an exit code (0 = success) or raises LabError; tasks.py only
parses options and calls these.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence, TextIO, TypeGuard

from ..deadline import Deadline
from ..errors import LabError
from ..loader import load_topology, resolve_topology_path
from ..contract import LabProvider as Provider
from ..names import check_lab_name

if TYPE_CHECKING:
    from ..providers.netns.provider import NetnsProvider

PROVIDERS = ("netns", "clab")


def _lab_name(topology: str | None, name: str | None) -> str:
    if name is not None:
        return check_lab_name(name)
    return load_topology(topology).name


def is_netns(lab: Provider) -> TypeGuard[NetnsProvider]:
    from ..providers.netns.provider import NetnsProvider

    return isinstance(lab, NetnsProvider)


@contextlib.contextmanager
def changing(lab: Provider, command: str, out: TextIO, wait: float | None = None) -> Iterator[None]:
    """Hold the lab's lock while `command` changes it, after undoing what an interrupted
    command left (its journal). Other providers keep their own state: nothing to do."""
    if not is_netns(lab):
        yield
        return
    from ..providers.netns.lock import lab_lock
    from ..providers.netns.provider import NetnsProvider

    from ..providers.netns.lock import DEFAULT_WAIT

    with lab_lock(lab.lab_name, command, DEFAULT_WAIT if wait is None else wait, run_root=lab.run_dir.parent):
        lab.command = command
        if NetnsProvider.exists(lab.lab_name, lab.run_dir.parent):
            _restore(lab, out)
        yield


def _restore(lab: NetnsProvider, out: TextIO) -> None:
    from ..providers.netns.provider import NetnsProvider

    if not (lab.run_dir / "topology.yaml").is_file():
        return  # partly built: nothing ran long enough to journal anything
    # Undo with the lab as it was built (an `up` with another topology holds a different one).
    built = lab if Path(lab.topo.source) == lab.run_dir / "topology.yaml" else NetnsProvider.attach(lab.lab_name, lab.run_dir.parent)
    built.command = getattr(lab, "command", "")
    if built.restore_journal(out):
        lab._blueprint = None  # the resources in force may have changed back


def open_provider(provider: str, topology: str | None, name: str | None, *, for_up: bool = False,
                  dry_run: bool = False, out: TextIO = sys.stdout) -> Provider:
    """The provider object for a lab: a new one for `up`, else the lab as it was built."""
    if provider not in PROVIDERS:
        raise LabError(f"unknown provider '{provider}' (use one of: {', '.join(PROVIDERS)})")
    if provider == "netns":
        from ..providers.netns.provider import NetnsProvider

        if not for_up:
            # A lab that exists is opened as it was built, whatever the topology file says now.
            lab_name = _lab_name(topology, name)
            if NetnsProvider.exists(lab_name):
                return NetnsProvider.attach(lab_name)
        return NetnsProvider(load_topology(topology), name)
    from ..providers.clab.provider import ClabProvider

    return ClabProvider(load_topology(topology), name, dry_run=dry_run, out=out)


def up(topology: str | None, provider: str, name: str | None, out: TextIO = sys.stdout, dry_run: bool = False,
       wait: float | None = None) -> int:
    if name is not None:
        check_lab_name(name)
    if wait is not None and (provider != "netns" or not 1 <= wait <= 86400):
        raise LabError(f"--wait {wait:g}: seconds from 1 to 86400, for the netns provider"
                       if provider == "netns" else "--wait is for the netns provider (clab waits for kind itself)")
    lab = open_provider(provider, topology, name, for_up=True, dry_run=dry_run, out=out)
    if wait is not None:
        lab.converge_deadline = float(wait)  # type: ignore[attr-defined]
    from ..headroom import overflow_hint, read_host_limits

    with changing(lab, "lab.up", out):
        limits = read_host_limits()
        try:
            lab.up(out)
        except LabError:
            # Sessions stuck in Connect look like a config problem; name the host's table if it overflowed.
            hint = overflow_hint(limits, read_host_limits()) if provider == "netns" else None
            if hint:
                out.write(f"note: {hint}\n")
            # Only the `up` that created objects gives this advice: a loser of two concurrent
            # `up`s never holds the lock, so it never points at the winner's lab.
            if getattr(lab, "built_something", False):
                out.write(f"`up` stopped; what was created is recorded: {_hint('down', lab)} removes it\n")
            raise
        except KeyboardInterrupt:
            _interrupted_up(lab, out)
    if provider == "netns":
        from ..faults import stopped_hint

        hint = stopped_hint(lab)
        if hint:
            out.write(hint + "\n")
    return 0


def _interrupted_up(lab: Provider, out: TextIO) -> None:
    if not is_netns(lab) or not getattr(lab, "built_something", False):  # only a netns `up` builds here
        raise LabError(f"interrupted before lab {lab.lab_name} was changed: nothing to remove") from None
    from ..providers.netns.provider import remove_lab

    out.write(f"interrupted: removing what this `up` created of lab {lab.lab_name} ...\n")
    out.flush()
    try:
        remove_lab(lab.lab_name, out, lab.run_dir.parent)
    except (LabError, KeyboardInterrupt):
        raise LabError(f"interrupted; lab {lab.lab_name} is partly built: {_hint('down', lab)} removes it") from None
    raise LabError(f"interrupted: lab {lab.lab_name} was not built (what `up` had created is removed)") from None


def down(topology: str | None, provider: str, name: str | None, out: TextIO = sys.stdout, dry_run: bool = False) -> int:
    if provider == "netns":
        from ..paths import run_root
        from ..providers.netns.lock import lab_lock
        from ..providers.netns.provider import NetnsProvider, remove_lab

        lab_name = _lab_name(topology, name)
        if not NetnsProvider.exists(lab_name):
            remove_lab(lab_name, out)  # says there is nothing to remove (and needs no root)
            return 0
        # The lock waits for an `up` still building: removing under it would leak what it adds next.
        root = run_root()
        with lab_lock(lab_name, "lab.down", run_root=root):
            try:
                built = NetnsProvider.attach(lab_name, root)
            except LabError:
                built = None  # partly built (no saved topology): nothing ran long enough to journal
            if built is not None:
                built.command = "lab.down"
                built.restore_journal(out, removing=True)
            remove_lab(lab_name, out)
        return 0
    open_provider(provider, topology, name, dry_run=dry_run, out=out).down(out)
    return 0


def _hint(task: str, lab: Provider | str) -> str:
    """The exact command for the user, naming the lab (the default lab is another one)."""
    name = lab if isinstance(lab, str) else lab.lab_name
    return f"`invoke lab.{task} --name {name}`"


def _require_up(lab: Provider) -> None:
    if not lab.is_up():
        raise LabError(f"lab {lab.lab_name} is not up: start it with {_hint('up', lab)} "
                       f"(add --topology if it is not the default topology)")


def status(topology: str | None, provider: str, name: str | None, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    from ..calico.status import format_status_table, parse_birdc_protocols

    lab = open_provider(provider, topology, name)
    _require_up(lab)
    _restore_if_free(lab, out)
    access = lab.access()
    report: dict = {"lab": lab.lab_name, "provider": provider, "nodes": {}, "routers": {}, "hosts": {}}
    for node in lab.topo.cluster.nodes:
        title = f"node {node.name} ({lab.topo.cluster.k8s_name(node)}, {node.ip.ip})"
        try:
            rows = parse_birdc_protocols(access.birdc(node.name, "show protocols"))
        except LabError as exc:  # one silent BIRD must not hide the others
            report["nodes"][node.name] = {"error": str(exc)}
            if not as_json:
                out.write(f"{title}: BIRD DOES NOT ANSWER ({exc})\n\n")
            continue
        report["nodes"][node.name] = [row.as_dict() for row in rows]
        if not as_json:
            out.write(f"{title}:\n{format_status_table(rows)}\n")
    for host in lab.topo.hosts:
        try:
            text = access.birdc(host.name, "show protocols")
        except LabError as exc:
            text = f"BIRD DOES NOT ANSWER ({exc})"
        report["hosts"][host.name] = text
        if not as_json:
            out.write(f"host {host.name} ({host.ip.ip}), BIRD:\n{text.strip()}\n\n")
    for router in lab.topo.routers:
        if as_json:
            report["routers"][router.name] = json.loads(access.vtysh(router.name, "show bgp summary json") or "{}")
        else:
            out.write(f"router {router.name} (AS {router.asn}):\n{access.vtysh(router.name, 'show bgp summary').strip()}\n\n")
    if as_json:
        out.write(json.dumps(report, indent=2, default=str) + "\n")
    return 0


def _restore_if_free(lab: Provider, out: TextIO) -> None:
    """A reading command heals what an interrupted command left if nobody holds the lab now;
    if a command does, it says so (what follows may show that command's temporary changes)."""
    if not is_netns(lab):
        return
    from ..providers.netns.lock import LabBusy

    try:
        with changing(lab, "lab.status", out, wait=0) if os.geteuid() == 0 else contextlib.nullcontext():
            pass
    except LabBusy as busy:
        out.write(f"note: `{busy.holder.get('command', 'a command')}` (PID {busy.holder.get('pid', '?')}) "
                  f"is changing lab {lab.lab_name} right now\n")


def exec_in(target: str, command: str | Sequence[str], topology: str | None, provider: str, name: str | None,
            out: TextIO = sys.stdout) -> int:
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if not argv:
        raise LabError("nothing to run: give the command after --, e.g. `invoke lab.exec leaf0 -- ip route`")
    lab = open_provider(provider, topology, name)
    _require_up(lab)
    access = lab.access()
    known = _targets(lab)
    if target not in known:
        raise LabError(f"unknown target '{target}' (targets: {', '.join(known)})")
    if argv[0] == "calicoctl":
        return _calicoctl_in(lab, target, argv[1:], out)
    if argv[0] == "birdc":
        out.write(access.birdc(target, " ".join(argv[1:])))
        return 0
    if argv[0] == "vtysh":
        commands = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-c"] or [" ".join(argv[1:])]
        for command_text in commands:
            out.write(access.vtysh(target, command_text))
        return 0
    if hasattr(access, "exec_stream"):  # output as the command runs, not when it ends
        return access.exec_stream(target, argv, out=out, err=sys.stderr, timeout=600)
    result = access.exec(target, argv, timeout=600)
    out.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.rc


def _calicoctl_in(lab: Provider, target: str, argv: Sequence[str], out: TextIO) -> int:
    """calicoctl on a node: `node status` reads that node's BIRD, as calico-node's calicoctl
    does; every other verb is a datastore client, the same as `lab.calicoctl`."""
    if list(argv[:2]) != ["node", "status"]:
        return lab.calicoctl(list(argv), out)
    from ..calico.status import parse_birdc_protocols
    from ..calico.tables import node_status_text

    nodes = {n.name for n in lab.topo.cluster.nodes}
    if target not in nodes:
        raise LabError(f"`calicoctl node status` runs on a Calico node (nodes: {', '.join(sorted(nodes))})")
    try:
        rows = parse_birdc_protocols(lab.access().birdc(target, "show protocols"))
    except LabError:
        out.write(node_status_text([], running=False))
        return 1
    out.write(node_status_text(rows))
    return 0


def _targets(lab: Provider) -> list[str]:
    topo = lab.topo
    names = [r.name for r in topo.routers] + [n.name for n in topo.cluster.nodes] + [h.name for h in topo.hosts]
    names += [p.name for p in lab.pods()]
    if hasattr(lab, "blueprint"):
        names += [ns.target for ns in lab.blueprint.namespaces if ns.target not in names]
    return names


def test(topology: str | None, provider: str, name: str | None, only: str | None = None,
         json_path: str | None = None, junit_path: str | None = None, out: TextIO = sys.stdout,
         report_path: str | None = None, full: bool = False) -> int:
    from ..checks import run_checks, select
    from ..checks.base import Context
    from ..checks.report import line, text_report, write_json, write_junit

    names = select(only)
    for option, path in (("--json", json_path), ("--junit", junit_path), ("--report", report_path)):
        _require_writable(option, path)  # before the checks: minutes of checks must not end in "cannot write"
    lab = open_provider(provider, topology, name)
    _require_up(lab)
    with changing(lab, "lab.test", out):
        started = time.monotonic()
        out.write(f"lab.test on {lab.lab_name} ({provider}): {', '.join(names)}\n")
        out.flush()
        results = run_checks(Context(lab, full=full), names, on_result=lambda r: (out.write(line(r) + "\n"), out.flush()))
        seconds = time.monotonic() - started
    out.write(text_report(results, lab.lab_name, seconds) + "\n")
    if json_path:
        write_json(json_path, results, lab.lab_name, seconds)
    if junit_path:
        write_junit(junit_path, results, lab.lab_name, seconds)
    if report_path:
        from .report import write_test_report

        write_test_report(report_path, lab, provider, results, seconds, names, not only, out)
    return 0 if all(r.ok for r in results) else 1


def _require_writable(option: str, path: str | None) -> None:
    if not path:
        return
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise LabError(f"{option} {path}: is a directory (give a file name)")
    if not parent.is_dir():
        raise LabError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(target if target.exists() else parent, os.W_OK):
        raise LabError(f"{option} {path}: not writable")


def parse_seconds(value, option: str = "--seconds", maximum: float = 24 * 3600) -> float:
    """A positive duration from the command line (e.g. "10", "2.5"), or LabError."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise LabError(f"{option} {value!r}: expected a number of seconds, like 10 or 2.5") from None
    if not 0 < seconds <= maximum:  # also refuses nan
        raise LabError(f"{option} {value!r}: must be more than 0 and at most {maximum:g} seconds")
    return seconds


def capture(target: str, iface: str, seconds, topology: str | None, provider: str, name: str | None,
            out_path: str | None = None, bpf: str = "", out: TextIO = sys.stdout) -> int:
    from ..pcap import PcapError, read_packets

    seconds = parse_seconds(seconds)
    lab = open_provider(provider, topology, name)
    _require_up(lab)
    if is_netns(lab):
        from ..preflight import require_root

        require_root()  # tcpdump inside a lab namespace
    if target not in _targets(lab):
        raise LabError(f"unknown target '{target}' (targets: {', '.join(_targets(lab))})")
    path = Path(out_path) if out_path else lab.out_dir / "captures" / f"{target}-{iface}-{time.strftime('%Y%m%d-%H%M%S')}.pcap"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabError(f"--out {path}: cannot create {path.parent}: {exc.strerror}") from None
    _require_writable("--out", str(path))
    # The capture ends by itself a little after `seconds` even if this command is killed.
    limit = {"limit": seconds + 30} if is_netns(lab) else {}
    with changing(lab, "lab.capture", out):
        end = Deadline.after(seconds)
        with lab.capture(target, [iface], {iface: path}, bpf, **limit):
            out.write(f"capturing on {target} {iface} for {seconds:g}s ...\n")
            out.flush()
            while not end.expired():  # the capture itself is the point of waiting here
                end.sleep(0.2)
    try:
        count = sum(1 for _ in read_packets(path))
    except PcapError as exc:
        raise LabError(f"wrote {path}, but cannot count its packets: {exc}") from None
    out.write(f"wrote {path} ({count} IPv4 packets); open it with wireshark or `tcpdump -nr {path}`\n")
    return 0


__all__ = ["up", "down", "status", "exec_in", "test", "capture", "open_provider", "resolve_topology_path"]
