"""Faults on the clab provider (link, stop/start, netem) by contract: the exact commands, in order.

Docker, kubectl and containerlab are not on our machines: these tests record what the provider
would run (a dry run prints it as one ordered transcript; the recording runner and the fake docker
client answer and fail on demand). Nothing here claims to have run against a real clab lab.
"""

from __future__ import annotations

import io

import pytest

from lab.commands import faults as cmd
from lab.doctor import CLAB, OK, Item
from lab.errors import LabError
from lab.exec import Result
from lab.loader import load_topology
from lab.providers.clab.fakes import FakeDockerClient
from lab.providers.clab.provider import ClabProvider
from lab.providers.clab.seams import Docker
from lab.runner import DryRunRunner, RecordingRunner

TOPO = load_topology("calico-bgp-rr")
KUBECTL = "kubectl --kubeconfig {out}/kubeconfig --context kind-calico-bgp-rr"
POD = "calico-node-x7k2p"


def dry(tmp_path, topo=TOPO, name=None):
    out = io.StringIO()
    lab = ClabProvider(topo, name, out_dir=tmp_path, dry_run=True, out=out, runner=DryRunRunner(out),
                       preflight=lambda: [Item(CLAB, OK, "x", "y")])
    return lab, out


def transcript(out: io.StringIO, tmp_path) -> list[str]:
    return out.getvalue().replace(str(tmp_path), "{out}").splitlines()


def recorded(tmp_path, exec_answer=None, answers=None, topo=TOPO, **runner_options):
    client = FakeDockerClient(exec_answer=exec_answer)
    answers = {("kubectl",): Result((), 0, POD, ""), **(answers or {})}
    runner = RecordingRunner(answers, **runner_options)
    lab = ClabProvider(topo, None, out_dir=tmp_path, runner=runner, docker=Docker(factory=lambda: client),
                       preflight=lambda: [Item(CLAB, OK, "x", "y")], deadline=0.3, interval=0.01)
    return lab, runner, client


# -- golden command lists (the dry-run transcript is the plan a user reads) ------------------------------

GOLDEN = {
    ("link", "leaf0", "eth1", False): [
        "# docker SDK: exec in clab-calico-bgp-rr-leaf0: ip link set eth1 down",
    ],
    ("link", "leaf0", "eth1", True): [
        "# docker SDK: exec in clab-calico-bgp-rr-leaf0: ip link set eth1 up",
    ],
    # A node's fabric interface: up re-runs what its server container's exec lines installed.
    ("link", "worker", "net0", True): [
        "# docker SDK: exec in clab-calico-bgp-rr-server-worker: ip link set net0 up",
        "# docker SDK: exec in clab-calico-bgp-rr-server-worker: ip addr replace 10.1.5.11/24 dev net0",
        "# docker SDK: exec in clab-calico-bgp-rr-server-worker: ip route replace default via 10.1.5.1",
    ],
    ("stop", "worker2", False): [
        f"{KUBECTL} -n kube-system get pods -l k8s-app=calico-node --field-selector "
        "spec.nodeName=calico-bgp-rr-worker2 -o 'jsonpath={{.items[0].metadata.name}}'",
        f"{KUBECTL} -n kube-system exec '<calico-node pod on calico-bgp-rr-worker2>' -c calico-node -- "
        "sv stop /etc/service/enabled/bird",
    ],
    ("stop", "worker2", True): [
        f"{KUBECTL} -n kube-system get pods -l k8s-app=calico-node --field-selector "
        "spec.nodeName=calico-bgp-rr-worker2 -o 'jsonpath={{.items[0].metadata.name}}'",
        f"{KUBECTL} -n kube-system exec '<calico-node pod on calico-bgp-rr-worker2>' -c calico-node -- "
        "sv once /etc/service/enabled/bird",
        f"{KUBECTL} -n kube-system exec '<calico-node pod on calico-bgp-rr-worker2>' -c calico-node -- "
        "sv kill /etc/service/enabled/bird",
    ],
    ("start", "worker2"): [
        f"{KUBECTL} -n kube-system get pods -l k8s-app=calico-node --field-selector "
        "spec.nodeName=calico-bgp-rr-worker2 -o 'jsonpath={{.items[0].metadata.name}}'",
        f"{KUBECTL} -n kube-system exec '<calico-node pod on calico-bgp-rr-worker2>' -c calico-node -- "
        "sv start /etc/service/enabled/bird",
        f"{KUBECTL} -n kube-system exec '<calico-node pod on calico-bgp-rr-worker2>' -c calico-node -- "
        "birdcl -s /var/run/calico/bird.ctl show status",
    ],
    ("stop", "spine1", False): [
        "# docker SDK: exec in clab-calico-bgp-rr-spine1: mkdir -p /tmp/fabriclab-frr-stopped",
        "# docker SDK: exec in clab-calico-bgp-rr-spine1: vtysh -n -w --config_dir /tmp/fabriclab-frr-stopped",
        "# docker SDK: exec in clab-calico-bgp-rr-spine1: systemctl stop frr",
    ],
    ("start", "spine1"): [
        "# docker SDK: exec in clab-calico-bgp-rr-spine1: systemctl start frr",
        "# docker SDK: exec in clab-calico-bgp-rr-spine1: vtysh -c 'show version'",
        "# docker SDK: exec in clab-calico-bgp-rr-spine1: vtysh -n -b --config_dir /tmp/fabriclab-frr-stopped",
        "# docker SDK: exec in clab-calico-bgp-rr-spine1: rm -rf /tmp/fabriclab-frr-stopped",
    ],
    ("netem", "leaf1", "eth2", 20, 5, 1.5): [
        "containerlab tools netem set -n clab-calico-bgp-rr-leaf1 -i eth2 --delay 20ms --jitter 5ms --loss 1.5",
    ],
    ("netem", "worker3", "net0", 0, 0, 10): [
        "containerlab tools netem set -n clab-calico-bgp-rr-server-worker3 -i net0 --delay 0ms --jitter 0ms --loss 10",
    ],
    ("clear_netem", "leaf1", "eth2"): [
        "containerlab tools netem reset -n clab-calico-bgp-rr-leaf1 -i eth2",
    ],
}


@pytest.mark.parametrize("call", list(GOLDEN), ids=lambda c: "-".join(map(str, c)))
def test_each_fault_runs_exactly_these_commands(call, tmp_path):
    lab, out = dry(tmp_path)
    method, *args = call
    kwargs = {"kill": args.pop()} if method == "stop" else {}
    lab.apply_fault(method, *args, **kwargs)
    assert transcript(out, tmp_path) == [line.format(out="{out}") for line in GOLDEN[call]]


def test_external_reflector_netem_and_link_restore_on_its_sidecar_interface(tmp_path):
    topo = load_topology("calico-rr-external")
    host = topo.hosts[0]
    lab, out = dry(tmp_path, topo)
    lab.link(host.name, "eth1", True)
    lab.netem(host.name, "eth1", 50)
    lines = transcript(out, tmp_path)
    assert lines[0] == f"# docker SDK: exec in clab-calico-rr-external-{host.name}-net: ip link set eth1 up"
    assert lines[1] == f"# docker SDK: exec in clab-calico-rr-external-{host.name}-net: ip addr replace {host.ip} dev eth1"
    assert lines[-1].startswith(f"containerlab tools netem set -n clab-calico-rr-external-{host.name} -i eth1 --delay 50ms")


def test_named_lab_uses_its_own_containers_and_hint(tmp_path):
    lab, out = dry(tmp_path, name="live-f00d")
    said = lab.stop("worker")
    assert "--field-selector spec.nodeName=live-f00d-worker" in out.getvalue()
    assert "lab.start --provider clab --name live-f00d worker" in said
    lab.link("leaf0", "eth1", False)
    assert "exec in clab-live-f00d-leaf0: ip link set eth1 down" in out.getvalue()


# -- refusals: one line, and no command ran -----------------------------------------------------------

@pytest.mark.parametrize("call, problem", [
    (("stop", "rr1"), "BIRD is the main process of its container"),
    (("start", "rr1"), "never stopped by the lab"),
    (("stop", "leaf0", True), "systemd restarts a crashed FRR"),
    (("link", "nosuch", "eth1", False), "unknown target 'nosuch'"),
    (("link", "leaf0", "eth1;reboot", False), "not a valid interface name"),
    (("link", "leaf0", "averyveryverylongname", False), "too long for a Linux interface name"),
    (("netem", "leaf0", "eth1", 5, 9, 0), "jitter 9 ms is larger than the delay"),
    (("netem", "leaf0", "eth1", 0, 0, 0), "needs a delay or a loss"),
    (("netem", "fabriclab-demo-x", "eth0", 5, 0, 0), "unknown target"),
])
def test_refused_faults_say_why_in_one_line_and_run_nothing(call, problem, tmp_path):
    topo = load_topology("calico-rr-external") if "rr1" in call else TOPO
    lab, runner, client = recorded(tmp_path, topo=topo)
    method, *args = call
    kwargs = {"kill": args.pop()} if method == "stop" and len(args) == 2 else {}
    with pytest.raises(LabError) as err:
        lab.apply_fault(method, *args, **kwargs)
    assert problem in str(err.value) and "\n" not in str(err.value)
    assert runner.commands == [] and client.execs == []


# -- real answers (recorded) -------------------------------------------------------------------------

def test_stop_then_start_a_node_waits_for_bird_to_answer(tmp_path):
    calls = []

    def birdcl(argv):
        calls.append(argv)  # BIRD answers on the third probe
        ready = len(calls) >= 3
        return Result(argv, 0 if ready else 1, "BIRD 1.6.8 ready.\n" if ready else "", "" if ready else "connect: refused")

    prefix = ("kubectl", "--kubeconfig", str(tmp_path / "kubeconfig"), "--context", "kind-calico-bgp-rr",
              "-n", "kube-system", "exec", POD, "-c", "calico-node", "--", "birdcl")
    lab, runner, _ = recorded(tmp_path, answers={prefix: birdcl})
    assert "BIRD in calico-node stopped" in lab.stop("worker")
    assert "ready in" in lab.start("worker")
    verbs = [c[c.index("--") + 1:] for c in runner.commands if "--" in c]
    assert verbs[:2] == [("sv", "stop", "/etc/service/enabled/bird"), ("sv", "start", "/etc/service/enabled/bird")]
    assert len(calls) == 3


def test_start_gives_up_at_the_deadline_with_one_line(tmp_path):
    lab, runner, _ = recorded(tmp_path, fail_when=lambda argv: "birdcl" in argv)
    with pytest.raises(LabError) as err:
        lab.start("worker")
    assert "BIRD in calico-node on worker answers: not ready after 0.3s" in str(err.value)


def test_a_failing_command_stops_the_fault_and_names_it(tmp_path):
    lab, runner, client = recorded(tmp_path, exec_answer=lambda c, argv: (1, "", "Cannot find device \"eth9\"")
                                   if argv[:3] == ("ip", "link", "set") else (0, "", ""))
    with pytest.raises(LabError) as err:
        lab.link("worker", "net0", True)
    assert "ip link set net0 up" in str(err.value) and "eth9" in str(err.value)
    assert len(client.execs) == 1  # nothing restored on a link that did not come up


def test_router_stop_start_through_docker_exec(tmp_path):
    lab, runner, client = recorded(tmp_path, exec_answer=lambda c, argv: (0, "FRRouting 9.1\n", ""))
    lab.stop("leaf0")
    lab.start("leaf0")
    assert [argv for _, argv in client.execs] == [
        ("mkdir", "-p", "/tmp/fabriclab-frr-stopped"),
        ("vtysh", "-n", "-w", "--config_dir", "/tmp/fabriclab-frr-stopped"),
        ("systemctl", "stop", "frr"),
        ("systemctl", "start", "frr"),
        ("vtysh", "-c", "show version"),
        ("vtysh", "-n", "-b", "--config_dir", "/tmp/fabriclab-frr-stopped"),
        ("rm", "-rf", "/tmp/fabriclab-frr-stopped"),
    ]
    assert {c for c, _ in client.execs} == {"clab-calico-bgp-rr-leaf0"}


# -- the tasks' command layer --------------------------------------------------------------------------

def test_dry_run_command_prints_the_plan_and_a_commented_result():
    out = io.StringIO()
    assert cmd.netem("leaf0:eth1", delay="30", provider="clab", dry_run=True, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("# dry run on clab lab calico-bgp-rr")
    assert lines[1] == "containerlab tools netem set -n clab-calico-bgp-rr-leaf0 -i eth1 --delay 30ms --jitter 0ms --loss 0"
    assert lines[2].startswith("# (dry run; a real run would report:) leaf0 eth1: netem delay 30 ms")


def test_dry_run_is_for_clab_only():
    with pytest.raises(LabError, match="--dry-run is for the clab provider"):
        cmd.stop("worker", provider="netns", dry_run=True, out=io.StringIO())
