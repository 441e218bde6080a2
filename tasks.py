"""Invoke tasks: the `lab` collection. Thin wrappers; the work lives in lab.commands.

    invoke --list                 all tasks
    invoke --help lab.up          options of one task
"""

from __future__ import annotations

import functools
import sys

from invoke import Collection, Exit, task

from lab.errors import LabError


def _user_errors(func):
    """Expected failures print one line and exit non-zero; bugs keep their traceback."""

    @functools.wraps(func)
    def wrapper(c, *args, **kwargs):
        try:
            code = func(c, *args, **kwargs)
        except LabError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise Exit(code=1) from None
        if code:
            raise Exit(code=code)

    return wrapper


TOPOLOGY_HELP = "topology name (in topologies/) or path to a topology file; default calico-bgp-rr"


@task(help={"topology": TOPOLOGY_HELP, "out": "output directory (default build/<lab name>/)"})
@_user_errors
def render(c, topology=None, out=None):
    """Write every generated file of a lab: kind.yaml, clab.yaml, VyOS startup configs, FRR configs, Calico resources."""
    from lab.commands.render import render as run

    run(topology, out)


PROVIDER_HELP = "netns (default: namespaces + FRR + BIRD on this host) or clab (kind + containerlab + VyOS)"
NAME_HELP = "lab name (default: the topology's name); lets two labs of one topology run side by side"


@task(help={"topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP, "name": NAME_HELP,
            "dry_run": "clab only: print every command and write every file, change nothing"})
@_user_errors
def up(c, topology=None, provider="netns", name=None, dry_run=False):
    """Build the lab and wait until every planned BGP session and pod route is there."""
    from lab.commands import lab as cmd

    if dry_run and provider != "clab":
        raise LabError("--dry-run is for the clab provider (the netns provider checks everything before it creates anything)")
    return cmd.up(topology, provider, name, dry_run=dry_run)


@task(help={"topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP, "name": NAME_HELP,
            "dry_run": "clab only: print the commands, change nothing"})
@_user_errors
def down(c, topology=None, provider="netns", name=None, dry_run=False):
    """Remove everything the lab created (processes, namespaces, links, bridges, run files). Safe to repeat."""
    from lab.commands import lab as cmd

    if dry_run and provider != "clab":
        raise LabError("--dry-run is for the clab provider")
    return cmd.down(topology, provider, name, dry_run=dry_run)


@task(help={"topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP, "name": NAME_HELP,
            "json": "print machine-readable JSON instead of tables"})
@_user_errors
def status(c, topology=None, provider="netns", name=None, json=False):
    """Per node the `calicoctl node status` table (from its BIRD); per router FRR's BGP summary."""
    from lab.commands import lab as cmd

    return cmd.status(topology, provider, name, as_json=json)


@task(name="exec", help={"target": "a router, node, pod or host of the lab (e.g. leaf0, worker2, worker2-pod0)",
                          "topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP, "name": NAME_HELP})
@_user_errors
def exec_(c, target, topology=None, provider="netns", name=None):
    """Run a command inside a lab target: invoke lab.exec leaf0 -- ip route   (birdc/vtysh reach that target's daemon)."""
    from lab.commands import lab as cmd

    return cmd.exec_in(target, c.remainder, topology, provider, name)


@task(help={"topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP, "name": NAME_HELP,
            "only": "comma-separated checks: bgp-sessions,routes,connectivity,ecmp,failover,service-advertisement",
            "json": "also write the results as JSON to this file",
            "junit": "also write the results as JUnit XML to this file",
            "report": "also write a self-contained HTML report (picture, checks, figures, status tables) to this file"})
@_user_errors
def test(c, topology=None, provider="netns", name=None, only=None, json=None, junit=None, report=None):
    """Run the checks against the running lab; exit 0 only if all pass."""
    from lab.commands import lab as cmd

    return cmd.test(topology, provider, name, only=only, json_path=json, junit_path=junit, report_path=report)


@task(help={"target": "router, node, pod or host", "iface": "interface inside that target (e.g. eth1)",
            "seconds": "how long to capture (default 10)", "out": "pcap file (default build/<lab>/captures/...)",
            "filter": "tcpdump filter expression", "topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP,
            "name": NAME_HELP})
@_user_errors
def capture(c, target, iface, seconds=10.0, out=None, filter="", topology=None, provider="netns", name=None):
    """Capture packets on one interface of a lab target into a pcap file you can open in Wireshark."""
    from lab.commands import lab as cmd

    return cmd.capture(target, iface, float(seconds), topology, provider, name, out_path=out, bpf=filter)


@task(help={"topology": TOPOLOGY_HELP, "json": "print JSON: sessions per node, IPAM blocks, lint findings"})
@_user_errors
def plan(c, topology=None, json=False):
    """Before anything runs: per node the `calicoctl node status` Calico will show, its pod blocks, and lint findings."""
    from lab.commands.plan import plan as run

    return run(topology, as_json=json)


@task(help={"provider": "check only what this provider needs (netns or clab); exit 1 if it is not ready",
            "topology": TOPOLOGY_HELP})
@_user_errors
def doctor(c, provider=None, topology=None):
    """Check this host for what each provider needs, one line per item, with how to fix it."""
    from lab.commands.doctor import doctor as run

    return run(provider, topology)


@task(help={"topology": TOPOLOGY_HELP, "name": NAME_HELP, "provider": PROVIDER_HELP,
            "out": "picture file: .svg, .png or .dot (default build/<lab>/<lab>.svg)",
            "sessions": "draw the BGP sessions too (always on when the lab is up)"})
@_user_errors
def graph(c, topology=None, name=None, out=None, sessions=False, provider="netns"):
    """Draw the lab with Graphviz: routers, racks, nodes, pods, links with addresses; BGP sessions by kind and state."""
    from lab.commands.graph import graph as run

    return run(topology, name, out, sessions=sessions, provider=provider)


lab = Collection("lab")
for _task in (up, test, down, status, exec_, capture, plan, render, doctor):
    lab.add_task(_task)
lab.add_task(graph)

ns = Collection()
ns.add_collection(lab)
