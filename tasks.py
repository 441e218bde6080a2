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


def _seconds(flag: str, value) -> float | None:
    """A number of seconds from the command line, or one clear error."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise LabError(f"{flag} {value!r}: a number of seconds") from None


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


def _after_dashes(c) -> list[str]:
    """The arguments after `--` exactly as the shell split them.

    Invoke joins its remainder into one string with spaces, which loses the quoting
    (`-- sh -c 'echo a; echo b'` would become five words); the process's own argv has them.
    """
    if "--" in sys.argv:
        return sys.argv[sys.argv.index("--") + 1:]
    import shlex

    return shlex.split(c.remainder) if c.remainder else []


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
            "dry_run": "clab only: print every command and write every file, change nothing",
            "wait": "netns: seconds to wait for every planned session and pod route (default 120; "
                    "labs of many hundred nodes need more, see README Scale)"})
@_user_errors
def up(c, topology=None, provider="netns", name=None, dry_run=False, wait=None):
    """Build the lab and wait until every planned BGP session and pod route is there."""
    from lab.commands import lab as cmd

    if dry_run and provider != "clab":
        raise LabError("--dry-run is for the clab provider (the netns provider checks everything before it creates anything)")
    return cmd.up(topology, provider, name, dry_run=dry_run, wait=_seconds("--wait", wait))


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

    return cmd.exec_in(target, _after_dashes(c), topology, provider, name)


@task(help={"topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP, "name": NAME_HELP,
            "only": "comma-separated checks: bgp-sessions,routes,connectivity,ecmp,failover,service-advertisement",
            "json": "also write the results as JSON to this file",
            "junit": "also write the results as JUnit XML to this file",
            "report": "also write a self-contained HTML report (picture, checks, figures, status tables) to this file",
            "full": "connectivity: ping every pair even in a big lab (default: all pairs up to 1,000, "
                    "then a sample covering every pod, node and rack pair)"})
@_user_errors
def test(c, topology=None, provider="netns", name=None, only=None, json=None, junit=None, report=None, full=False):
    """Run the checks against the running lab; exit 0 only if all pass."""
    from lab.commands import lab as cmd

    return cmd.test(topology, provider, name, only=only, json_path=json, junit_path=junit, report_path=report,
                    full=full)


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


@task(help={"name": NAME_HELP, "topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP,
            "dry_run": "clab only: print the calicoctl command, change nothing"})
@_user_errors
def calicoctl(c, name=None, topology=None, provider="netns", dry_run=False):
    """calicoctl on a running lab: invoke lab.calicoctl -- apply -f peers.yaml | get nodes -o wide | patch ... | label ... | delete ..."""
    from lab.commands.calicoctl import calicoctl as run

    return run(_after_dashes(c), name=name, topology=topology, provider=provider, dry_run=dry_run)


@task(help={"name": NAME_HELP, "topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP,
            "dry_run": "clab only: print the kubectl commands, change nothing",
            "recreate": "delete and recreate pods (new addresses from the enabled pools), as a rollout restart does",
            "node": "with --recreate: only the pods of this node", "all": "with --recreate: every pod",
            "add": "add a pod on this node", "delete": "delete this pod"})
@_user_errors
def pods(c, name=None, topology=None, provider="netns", dry_run=False, recreate=False, node=None, all=False,
         add=None, delete=None):
    """List the lab's pods (node, IP, block, pool), or recreate, add or delete pods."""
    from lab.commands.calicoctl import pods as run

    return run(name, topology, provider=provider, recreate_pods=recreate, node=node, all_pods=all, add=add,
               delete=delete, dry_run=dry_run)


@task(help={"name": NAME_HELP, "topology": TOPOLOGY_HELP, "out": "archive to write (default build/<lab>/bundle-<lab>-<time>.tar.gz)",
            "captures": "include the pcaps under build/<lab>/captures/",
            "include_secrets": "keep BGP passwords and Secret contents (redacted by default)",
            "as_scenario": "also write the change log as a scenario file (a regression scenario in one command)"})
@_user_errors
def bundle(c, name=None, topology=None, out=None, captures=False, include_secrets=False, as_scenario=None):
    """Write a running lab and its history (every change since up) into one .tar.gz a person can read and anyone can replay."""
    from lab.commands.bundle import bundle as run

    return run(name, topology, out, captures=captures, include_secrets=include_secrets, as_scenario=as_scenario)


@task(help={"bundle": "a file written by lab.bundle", "name": "name of the rebuilt lab (default <lab>-replay)",
            "until": "stop after this many changes (0: just the starting state)",
            "step": "wait for Enter before each change"})
@_user_errors
def replay(c, bundle, name=None, until=None, step=False):
    """Rebuild a bundled lab, re-apply its changes in order, and say whether sessions and routes came out identical."""
    from lab.commands.bundle import replay as run

    if until is not None:
        try:
            until = int(until)
        except ValueError:
            raise LabError(f"--until {until!r}: give a whole number of changes") from None
    return run(bundle, name, until=until, step=step)


ENDPOINT_HELP = "TARGET:IFACE, e.g. leaf0:eth1 or worker:eth0"


FAULT_DRY_RUN = "clab only: print the docker/kubectl/containerlab commands, run none"


@task(name="link", help={"endpoint": ENDPOINT_HELP, "state": "down or up", "name": NAME_HELP,
                         "topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP, "dry_run": FAULT_DRY_RUN})
@_user_errors
def link_(c, endpoint, state, name=None, topology=None, provider="netns", dry_run=False):
    """Set a lab interface down or up; up restores the addresses, routes and sysctls the lab put through it."""
    from lab.commands import faults

    return faults.link(endpoint, state, name, topology, provider=provider, dry_run=dry_run)


@task(name="stop", help={"target": "router, node or route-reflector host", "name": NAME_HELP,
                         "kill": "SIGKILL (a crash: no BGP Cease; the kernel still closes the TCP sessions) instead of SIGTERM",
                         "topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP, "dry_run": FAULT_DRY_RUN})
@_user_errors
def stop_(c, target, name=None, kill=False, topology=None, provider="netns", dry_run=False):
    """Stop the routing daemon(s) of a target: zebra+bgpd of a router, BIRD of a node or RR host.

    On clab: FRR of a VyOS router (systemd), BIRD in calico-node (runit `sv stop`)."""
    from lab.commands import faults

    return faults.stop(target, name, topology, kill=kill, provider=provider, dry_run=dry_run)


@task(name="start", help={"target": "router, node or route-reflector host", "name": NAME_HELP,
                          "topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP, "dry_run": FAULT_DRY_RUN})
@_user_errors
def start_(c, target, name=None, topology=None, provider="netns", dry_run=False):
    """Start a stopped target's routing daemon(s) with the same command line and config; waits until ready."""
    from lab.commands import faults

    return faults.start(target, name, topology, provider=provider, dry_run=dry_run)


@task(help={"endpoint": ENDPOINT_HELP, "delay": "added delay in ms", "jitter": "jitter in ms (<= delay)",
            "loss": "random loss in percent", "clear": "remove the netem qdisc", "name": NAME_HELP,
            "topology": TOPOLOGY_HELP, "provider": PROVIDER_HELP, "dry_run": FAULT_DRY_RUN})
@_user_errors
def netem(c, endpoint, delay=None, jitter=None, loss=None, clear=False, name=None, topology=None, provider="netns",
          dry_run=False):
    """Slow down or lose packets on one lab interface (tc netem; clab: containerlab tools netem), or --clear it."""
    from lab.commands import faults

    return faults.netem(endpoint, delay, jitter, loss, clear, name, topology, provider=provider, dry_run=dry_run)


@task(help={"action": "start | mark | status | stop",
            "text": "mark only: the text of the mark (or after --: lab.traffic mark -- mesh off)",
            "name": NAME_HELP, "topology": TOPOLOGY_HELP,
            "pairs": "start: all (default), cross-node, cross-rack, or SRC:DST,... (pod names)",
            "interval": "start: ms between two probes of one pair (default 20)",
            "limit": "start: seconds after which the traffic stops by itself (default 600)",
            "json": "stop: also write the report (per segment and pair: sent, lost, longest outage) to this file"})
@_user_errors
def traffic(c, action, text=None, name=None, topology=None, pairs=None, interval=None, limit=None, json=None):
    """Background probes between pods: start, mark --text T, status, stop (loss per segment between marks)."""
    from lab.commands.traffic import traffic as run

    # Invoke has no optional positional argument: the mark's text comes with --text or after --.
    if text is None:
        text = " ".join(_after_dashes(c)) or None
    return run(action, text, name, topology, pairs, interval, limit, json)


@task(help={"scenario": "a name in scenarios/ or a path to a scenario file; --list lists the shipped ones",
            "name": NAME_HELP,
            "keep": "keep the lab at the end (default: remove it if the scenario brought it up)",
            "json": "also write the per-step results (with sent/lost/longest outage) as JSON to this file",
            "junit": "also write the per-step results as JUnit XML to this file",
            "report": "also write a self-contained HTML report (picture, steps with verdicts, loss per step, "
                      "tables and route diffs each step printed) to this file"})
@_user_errors
def scenario(c, scenario, name=None, keep=False, json=None, junit=None, report=None):
    """Run a scripted procedure on a lab with background traffic: steps, tables, route diffs, loss per step."""
    from lab.commands.scenario import scenario as run

    # `--list` arrives as the scenario argument (Invoke has no optional positional argument).
    if scenario == "--list":
        return run(None, list_=True)
    return run(scenario, name, keep, json, junit, report)
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
lab.add_task(link_)
lab.add_task(stop_)
lab.add_task(start_)
lab.add_task(netem)
lab.add_task(calicoctl)
lab.add_task(pods)
lab.add_task(bundle)
lab.add_task(replay)
lab.add_task(traffic)
lab.add_task(scenario)
lab.add_task(graph)

ns = Collection()
ns.add_collection(lab)


@task(help={"family": "rr (2 in-cluster reflectors, one segment), mesh (one segment), rackleaf (25 nodes per "
                      "rack behind a leaf, 2 spines), rr-rack (as rackleaf, a reflector per rack peering with its leaf)",
            "nodes": "number of Calico nodes", "out": "file to write (default build/scale-<family>-<nodes>.yaml)",
            "name": "lab name in the file (default scale-<family>-<nodes>)"})
@_user_errors
def gen(c, family, nodes, out=None, name=None):
    """Write a compact topology file for a lab family and size (node counts, generated racks and fabric)."""
    from lab.commands.gen import gen as run

    return run(family, int(nodes), out, name)


lab.add_task(gen)
