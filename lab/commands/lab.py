"""The lab lifecycle commands behind `invoke lab.*`, independent of Invoke.

Each returns an exit code (0 = success) or raises LabError; tasks.py only
parses options and calls these.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence, TextIO

from ..errors import LabError
from ..loader import load_topology, resolve_topology_path
from ..providers.base import Provider

PROVIDERS = ("netns", "clab")


def _lab_name(topology: str | None, name: str | None) -> str:
    if name:
        return name
    return load_topology(topology).name


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


def up(topology: str | None, provider: str, name: str | None, out: TextIO = sys.stdout, dry_run: bool = False) -> int:
    lab = open_provider(provider, topology, name, for_up=True, dry_run=dry_run, out=out)
    try:
        lab.up(out)
    except LabError:
        if provider == "netns" and lab.is_up():
            out.write(f"`up` stopped; what was created is recorded: `invoke lab.down --name {lab.lab_name}` removes it\n")
        raise
    return 0


def down(topology: str | None, provider: str, name: str | None, out: TextIO = sys.stdout, dry_run: bool = False) -> int:
    if provider == "netns":
        from ..providers.netns.provider import remove_lab

        remove_lab(_lab_name(topology, name), out)
        return 0
    open_provider(provider, topology, name, dry_run=dry_run, out=out).down(out)
    return 0


def _require_up(lab: Provider) -> None:
    if not lab.is_up():
        raise LabError(f"lab {lab.lab_name} is not up: start it with `invoke lab.up`")


def status(topology: str | None, provider: str, name: str | None, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    from ..calico.status import format_status_table, parse_birdc_protocols

    lab = open_provider(provider, topology, name)
    _require_up(lab)
    access = lab.access()
    report: dict = {"lab": lab.lab_name, "provider": provider, "nodes": {}, "routers": {}, "hosts": {}}
    for node in lab.topo.cluster.nodes:
        rows = parse_birdc_protocols(access.birdc(node.name, "show protocols"))
        report["nodes"][node.name] = [row.__dict__ if hasattr(row, "__dict__") else row._asdict() for row in rows]
        if not as_json:
            out.write(f"node {node.name} ({lab.topo.cluster.k8s_name(node)}, {node.ip.ip}):\n{format_status_table(rows)}\n")
    for host in lab.topo.hosts:
        text = access.birdc(host.name, "show protocols")
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
    if argv[0] == "birdc":
        out.write(access.birdc(target, " ".join(argv[1:])))
        return 0
    if argv[0] == "vtysh":
        commands = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-c"] or [" ".join(argv[1:])]
        for command_text in commands:
            out.write(access.vtysh(target, command_text))
        return 0
    result = access.exec(target, argv, timeout=600)
    out.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.rc


def _targets(lab: Provider) -> list[str]:
    topo = lab.topo
    names = [r.name for r in topo.routers] + [n.name for n in topo.cluster.nodes] + [h.name for h in topo.hosts]
    names += [p.name for p in lab.pods()]
    if hasattr(lab, "blueprint"):
        names += [ns.target for ns in lab.blueprint.namespaces if ns.target not in names]
    return names


def test(topology: str | None, provider: str, name: str | None, only: str | None = None,
         json_path: str | None = None, junit_path: str | None = None, out: TextIO = sys.stdout,
         report_path: str | None = None) -> int:
    from ..checks import run_checks, select
    from ..checks.base import Context
    from ..checks.report import line, text_report, write_json, write_junit

    names = select(only)
    lab = open_provider(provider, topology, name)
    _require_up(lab)
    started = time.monotonic()
    out.write(f"lab.test on {lab.lab_name} ({provider}): {', '.join(names)}\n")
    results = run_checks(Context(lab), names, on_result=lambda r: (out.write(line(r) + "\n"), out.flush()))
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


def capture(target: str, iface: str, seconds: float, topology: str | None, provider: str, name: str | None,
            out_path: str | None = None, bpf: str = "", out: TextIO = sys.stdout) -> int:
    lab = open_provider(provider, topology, name)
    _require_up(lab)
    if target not in _targets(lab):
        raise LabError(f"unknown target '{target}' (targets: {', '.join(_targets(lab))})")
    path = Path(out_path) if out_path else lab.out_dir / "captures" / f"{target}-{iface}-{time.strftime('%Y%m%d-%H%M%S')}.pcap"
    path.parent.mkdir(parents=True, exist_ok=True)
    end = time.monotonic() + seconds
    with lab.capture(target, [iface], {iface: path}, bpf):
        out.write(f"capturing on {target} {iface} for {seconds:g}s ...\n")
        out.flush()
        while time.monotonic() < end:  # the capture itself is the point of waiting here
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))
    from ..pcap import read_packets

    count = sum(1 for _ in read_packets(path))
    out.write(f"wrote {path} ({count} IPv4 packets); open it with wireshark or `tcpdump -nr {path}`\n")
    return 0


__all__ = ["up", "down", "status", "exec_in", "test", "capture", "open_provider", "resolve_topology_path"]
