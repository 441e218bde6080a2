"""Invoke tasks: the `lab` collection. Thin wrappers; the work lives in lab.commands.

    invoke --list                 all tasks
    invoke --help lab.up          options of one task
"""

from __future__ import annotations

import functools
import os
import sys

from invoke import Collection, Exit, task

from lab.errors import LabError


def _silence_stdout() -> None:
    # The reader went away (`| head`): later writes and the interpreter's final flush must not
    # raise again, so stdout now goes nowhere.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _user_errors(func):
    """Expected failures print one line and exit non-zero; bugs keep their traceback.

    A closed output pipe (`invoke lab.status | head -3`) ends the command quietly, as any Unix
    tool does; Ctrl-C prints one line (commands that build something clean up first)."""

    @functools.wraps(func)
    def wrapper(c, *args, **kwargs):
        try:
            code = func(c, *args, **kwargs)
        except LabError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise Exit(code=1) from None
        except BrokenPipeError:
            _silence_stdout()
            raise Exit(code=141) from None  # what a shell reports for a process ended by SIGPIPE
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            raise Exit(code=130) from None
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
            "junit": "also write the results as JUnit XML to this file"})
@_user_errors
def test(c, topology=None, provider="netns", name=None, only=None, json=None, junit=None):
    """Run the checks against the running lab; exit 0 only if all pass."""
    from lab.commands import lab as cmd

    return cmd.test(topology, provider, name, only=only, json_path=json, junit_path=junit)


@task(help={"target": "router, node, pod or host", "iface": "interface inside that target (e.g. eth1)",
            "seconds": "how long to capture, in seconds (default 10)", "out": "pcap file (default build/<lab>/captures/...)",
            "filter": "tcpdump filter expression", "topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP,
            "name": NAME_HELP})
@_user_errors
def capture(c, target, iface, seconds="10", out=None, filter="", topology=None, provider="netns", name=None):
    """Capture packets on one interface of a lab target (or `any`) into a pcap file you can open in Wireshark."""
    from lab.commands import lab as cmd

    # A string option: Invoke's own float conversion would end "--seconds abc" in a traceback.
    return cmd.capture(target, iface, seconds, topology, provider, name, out_path=out, bpf=filter)


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


lab = Collection("lab")
for _task in (up, test, down, status, exec_, capture, plan, render, doctor):
    lab.add_task(_task)

ns = Collection()
ns.add_collection(lab)
