"""ClabAccess (the exec interface on a clab lab) and the docker/SSH seams, with a fake docker client,
a fake SSH client and a recording runner. Tested by contract, not against a real lab."""

from __future__ import annotations

import os
import shlex
import subprocess
import time

import pytest

from lab.errors import LabError
from lab.exec import Result
from lab.loader import load_topology
from lab.providers.clab.access import KILL_SCRIPT, SPAWN_SCRIPT, ClabAccess, ContainerSpawned
from lab.providers.clab.fakes import FakeDockerClient, SshLog
from lab.providers.clab.provider import ClabProvider
from lab.providers.clab.seams import Docker, DryRunDocker, DryRunSsh, VyosSsh
from lab.runner import DryRunRunner, RecordingRunner

TOPO = load_topology("calico-bgp-rr")
KUBECTL = ["kubectl", "--kubeconfig", "/lab/kubeconfig", "--context", "kind-calico-bgp-rr"]


def make(topo=TOPO, exec_answer=None, ssh_answer=None, known=None, exec_delay=0.0, runner=None):
    client = FakeDockerClient(exec_answer=exec_answer, known=known, exec_delay=exec_delay)
    docker = Docker(factory=lambda: client)
    log = SshLog(ssh_answer)
    runner = runner or RecordingRunner()
    access = ClabAccess(topo, runner, docker, VyosSsh(docker, "admin", "s3cret", factory=log), KUBECTL)
    return access, client, log, runner


def test_targets_map_to_containers_pods_and_daemons():
    access, client, log, runner = make(ssh_answer=lambda address, command: (0, '{"ipv4Unicast": {}}', ""))
    access.exec("leaf0", ["ip", "link", "set", "eth1", "down"])
    access.exec("worker2", ["ping", "-c", "1", "10.244.0.1"])
    access.exec("fabriclab-demo-x7k2p", ["ip", "route"], timeout=5)
    # Routers and servers (which share their kind node's network namespace) through the docker SDK.
    assert client.execs == [("clab-calico-bgp-rr-leaf0", ("ip", "link", "set", "eth1", "down")),
                            ("clab-calico-bgp-rr-server-worker2", ("ping", "-c", "1", "10.244.0.1"))]
    # Pods through kubectl.
    assert runner.commands == [(*KUBECTL, "exec", "-n", "default", "fabriclab-demo-x7k2p", "--", "ip", "route")]

    # vtysh: FRR's own CLI over SSH with the configured credentials, one session per router.
    assert access.vtysh("spine1", "show bgp summary json") == '{"ipv4Unicast": {}}'
    access.vtysh("spine1", "show ip route json")
    address = client.address_of("clab-calico-bgp-rr-spine1")
    assert log.connects == [(address, 22, "admin", "s3cret")]
    assert log.commands == [(address, "vtysh -c 'show bgp summary json'"), (address, "vtysh -c 'show ip route json'")]


def test_birdc_on_a_node_is_birdcl_in_its_calico_node_pod():
    runner = RecordingRunner({(*KUBECTL, "-n", "kube-system", "get", "pods"): Result((), 0, "calico-node-q8x2z", ""),
                              (*KUBECTL, "-n", "kube-system", "exec"): Result((), 0, "BIRD ready.\n", "")})
    access, _, _, runner = make(runner=runner)
    assert access.birdc("worker3", "show protocols") == "BIRD ready.\n"
    access.birdc("worker3", "show route")
    lookup, first, second = runner.commands
    assert "--field-selector" in lookup and "spec.nodeName=calico-bgp-rr-worker3" in lookup
    assert first == (*KUBECTL, "-n", "kube-system", "exec", "calico-node-q8x2z", "-c", "calico-node", "--",
                     "birdcl", "-s", "/var/run/calico/bird.ctl", "show", "protocols")
    assert second[-2:] == ("show", "route")  # the pod name is looked up once


def test_birdc_looks_the_pod_up_again_after_a_failure():
    pods = iter(["calico-node-old", "calico-node-new"])
    runner = RecordingRunner({(*KUBECTL, "-n", "kube-system", "get", "pods"): lambda argv: Result(argv, 0, next(pods), ""),
                              (*KUBECTL, "-n", "kube-system", "exec", "calico-node-old"): Result((), 1, "", "gone"),
                              (*KUBECTL, "-n", "kube-system", "exec", "calico-node-new"): Result((), 0, "ok", "")})
    access, _, _, _ = make(runner=runner)
    assert access.birdc("worker", "show protocols") == "ok"
    runner = RecordingRunner({(*KUBECTL, "-n", "kube-system", "get", "pods"): Result((), 0, "", "")})
    with pytest.raises(LabError, match="no calico-node pod on calico-bgp-rr-worker"):
        make(runner=runner)[0].birdc("worker", "show protocols")


def test_birdc_on_an_external_route_reflector_host():
    topo = load_topology("calico-rr-external")
    access, client, _, _ = make(topo, exec_answer=lambda c, argv: (0, "rr ok", ""))
    assert access.birdc("rr1", "show protocols all") == "rr ok"
    access.exec("rr1", ["ip", "-j", "route"])  # the BIRD image has no ip: its network-tools sidecar runs it
    assert client.execs == [("clab-calico-rr-external-rr1", ("birdc", "show", "protocols", "all")),
                            ("clab-calico-rr-external-rr1-net", ("ip", "-j", "route"))]


def test_errors_name_the_target():
    access, _, log, _ = make(known=set())
    with pytest.raises(LabError, match="unknown lab target 'nowhere'"):
        access.exec("nowhere", ["true"])
    with pytest.raises(LabError, match="container clab-calico-bgp-rr-leaf0 not found"):
        access.exec("leaf0", ["true"])
    with pytest.raises(LabError, match="'worker' is not a router"):
        access.vtysh("worker", "show bgp summary")
    with pytest.raises(LabError, match="runs no BIRD"):
        access.birdc("leaf0", "show protocols")
    access, _, _, _ = make(exec_answer=lambda c, argv: (2, "", "RTNETLINK answers: Operation not permitted"))
    assert access.exec("leaf0", ["ip", "link", "set", "eth1", "down"]).rc == 2
    with pytest.raises(LabError, match="Operation not permitted"):
        access.exec("leaf0", ["ip", "link", "set", "eth1", "down"], check=True)
    access, _, _, _ = make(ssh_answer=lambda a, c: (1, "", "% Unknown command"))
    with pytest.raises(LabError, match="FRR on leaf1 does not answer: % Unknown command"):
        access.vtysh("leaf1", "show nonsense")


def test_docker_exec_has_a_deadline_the_sdk_lacks():
    access, _, _, _ = make(exec_delay=2.0)
    started = time.monotonic()
    result = access.exec("leaf0", ["tcpdump"], timeout=0.05)
    assert result.rc == 124 and "timed out" in result.stderr and time.monotonic() - started < 1.0


def test_docker_engine_unreachable_is_a_clear_error():
    def factory():
        raise ConnectionError("Error while fetching server API version")

    docker = Docker(factory=factory)
    with pytest.raises(LabError, match="docker engine not reachable at unix:///var/run/docker.sock"):
        docker.exec("x", ["true"])
    assert Docker(factory=lambda: FakeDockerClient(reachable=False)).ping() is None
    client = FakeDockerClient(images=["vyos/vyos:1.4"])
    assert Docker(factory=lambda: client).image_present("vyos/vyos:1.4")
    assert not Docker(factory=lambda: client).image_present("vyos/vyos:1.5")


def test_ssh_failures_drop_the_session_and_say_where():
    access, client, log, _ = make()
    log.refuse = True
    with pytest.raises(LabError, match=r"ssh admin@172\.20\.20\.\d+ \(clab-calico-bgp-rr-leaf0\): .*refused"):
        access.vtysh("leaf0", "show bgp summary")
    log.refuse = False
    access.vtysh("leaf0", "show bgp summary")
    assert len(log.connects) == 1
    ssh = VyosSsh(Docker(factory=lambda: client), factory=log)
    assert ssh.probe("clab-calico-bgp-rr-leaf0", "show ip bgp summary", "BGP router identifier") is False
    log.answer = lambda a, c: (0, "BGP router identifier 10.1.5.1, local AS number 65005", "")
    assert ssh.probe("clab-calico-bgp-rr-leaf0", "show ip bgp summary", "BGP router identifier") is True
    assert log.commands[-1][1] == "/opt/vyatta/bin/vyatta-op-cmd-wrapper show ip bgp summary"


def test_credentials_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FABRICLAB_VYOS_USER", "ops")
    monkeypatch.setenv("FABRICLAB_VYOS_PASSWORD", "pw")
    lab = ClabProvider(TOPO, out_dir=tmp_path)
    assert (lab.ssh.user, lab.ssh.password) == ("ops", "pw")
    monkeypatch.delenv("FABRICLAB_VYOS_USER")
    monkeypatch.delenv("FABRICLAB_VYOS_PASSWORD")
    lab = ClabProvider(TOPO, out_dir=tmp_path)
    assert (lab.ssh.user, lab.ssh.password) == ("vyos", "vyos")  # the VyOS image's default login


def test_spawn_argv_records_the_pid_and_stop_kills_exactly_it():
    access, client, _, runner = make()
    outer, kill = access.spawn_argv("leaf0", ["tcpdump", "-i", "eth1", "-w", "-"], "/tmp/p.pid")
    assert outer == ["docker", "exec", "clab-calico-bgp-rr-leaf0", "sh", "-c", SPAWN_SCRIPT, "/tmp/p.pid",
                     "tcpdump", "-i", "eth1", "-w", "-"]
    kill()
    assert client.execs == [("clab-calico-bgp-rr-leaf0", ("sh", "-c", KILL_SCRIPT, "/tmp/p.pid"))]
    outer, kill = access.spawn_argv("fabriclab-demo-abc", ["python3", "/tmp/t.py"], "/tmp/q.pid")
    assert outer[:len(KUBECTL) + 5] == [*KUBECTL, "exec", "-n", "default", "fabriclab-demo-abc", "--"]
    kill()
    assert runner.commands[-1][-4:] == ("sh", "-c", KILL_SCRIPT, "/tmp/q.pid")


def test_spawn_and_kill_scripts_work_in_a_real_shell(tmp_path):
    """The two constant scripts, run here by sh instead of inside a container: argv passes through
    unparsed, the PID file names the process, and stop kills that PID only."""
    pidfile = str(tmp_path / "spawn.pid")
    log = tmp_path / "out.log"
    argv = ["sh", "-c", "echo 'started; $HOME unexpanded'; exec sleep 30"]
    spawned = ContainerSpawned(argv, log, ["sh", "-c", SPAWN_SCRIPT, pidfile, *argv],
                               kill=lambda: subprocess.run(["sh", "-c", KILL_SCRIPT, pidfile], check=False))
    deadline = time.monotonic() + 5
    while not (os.path.exists(pidfile) and log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    pid = int(open(pidfile).read())
    assert pid == spawned.background.pid  # exec kept the PID
    started = time.monotonic()
    result = spawned.stop()
    assert time.monotonic() - started < 2.0 and not os.path.exists(pidfile)
    assert "started; $HOME unexpanded" in result.stdout


def test_dry_run_seams_print_what_they_would_do():
    runner = RecordingRunner()
    DryRunDocker(runner).exec("c", ["ip", "-4", "addr"])
    DryRunSsh(runner, "vyos").probe("r", "show ip bgp summary", "BGP router identifier")
    assert runner.notes[0] == "docker SDK: exec in c: ip -4 addr"
    assert runner.notes[1].startswith("paramiko: ssh vyos@<r management address> "
                                      "'/opt/vyatta/bin/vyatta-op-cmd-wrapper show ip bgp summary'")


def test_status_and_checks_reach_a_dry_run_lab_through_the_same_interface(tmp_path, capsys):
    lab = ClabProvider(TOPO, out_dir=tmp_path, dry_run=True)
    access = lab.access()
    access.vtysh("leaf0", "show bgp summary json")
    access.exec("worker", ["ip", "-j", "route", "show", "table", "main"])
    out = capsys.readouterr().out.splitlines()
    assert out == [f"# paramiko: ssh vyos@<clab-calico-bgp-rr-leaf0 management address> "
                   f"{shlex.join(['vtysh', '-c', 'show bgp summary json'])}",
                   "# docker SDK: exec in clab-calico-bgp-rr-server-worker: ip -j route show table main"]
    assert isinstance(lab.runner, DryRunRunner)
