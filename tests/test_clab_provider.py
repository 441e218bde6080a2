"""The clab provider, tested by contract: Docker, kind, containerlab, calicoctl and VyOS are not on
our machines, so every command is recorded by a fake runner (and every docker exec, SSH command and
bridge operation by fakes) and compared with a golden plan. Not an end-to-end test.

Regenerate the golden files after an intended change:
    FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_clab_provider.py
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import io
import json
import os
import shlex
from pathlib import Path

import pytest
import yaml

from lab.doctor import CLAB, MISSING, OK, WARN, Item
from lab.errors import LabError
from lab.exec import Result
from lab.fabric import router_bgp
from lab.loader import load_topology
from lab.providers.base import StepFailed
from lab.providers.clab import steps as steps_module
from lab.providers.clab.fakes import (FakeBridges, FakeDockerClient, SshLog, frr_bgp_summary,
                                      vyos_show_interfaces)
from lab.providers.clab.manifest import manifest_images, set_pool_env, verify_sha256
from lab.providers.clab.provider import STATE_FILE, ClabProvider, clab_present
from lab.providers.clab.seams import Docker, VyosSsh
from lab.render.workload import render_workload
from lab.runner import RecordingRunner

GOLDEN = Path(__file__).parent / "golden" / "clab"
PLAN = GOLDEN / "calico-bgp-rr.plan.txt"
UPDATE = os.environ.get("FABRICLAB_UPDATE_GOLDEN") == "1"
TOPO = load_topology("calico-bgp-rr")
MANIFEST = """
apiVersion: v1
kind: ConfigMap
metadata: {name: calico-config, namespace: kube-system}
data: {calico_backend: bird}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: calico-node, namespace: kube-system}
spec:
  template:
    spec:
      initContainers:
      - {name: install-cni, image: docker.io/calico/cni:v3.31.3}
      containers:
      - name: calico-node
        image: docker.io/calico/node:v3.31.3
        env:
        - {name: CALICO_IPV4POOL_IPIP, value: Always}
        - {name: FELIX_LOGSEVERITYSCREEN, value: info}
        - {name: CALICO_IPV4POOL_CIDR, value: 192.168.0.0/16}
        - {name: CALICO_IPV4POOL_VXLAN, value: Never}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: calico-kube-controllers, namespace: kube-system}
spec:
  template:
    spec:
      containers:
      - {name: calico-kube-controllers, image: docker.io/calico/kube-controllers:v3.31.3}
"""
STEP_TITLES = ["pre-flight", "render", "fetch the Calico", "pull the lab's images", "kind create cluster",
               "kind load", "remove the control-plane taint", "create rack bridges", "containerlab deploy",
               "wait for VyOS routers", "install Calico", "apply Node settings", "deploy the demo workload",
               "wait until every planned BGP peer"]
STEPS = len(STEP_TITLES)


def all_ok():
    return [Item(CLAB, OK, name, "found") for name in
            ("root", "docker engine", "kind", "containerlab", "kubectl", "calicoctl", f"VyOS image {TOPO.vyos_image}")]


def normalise(text: str, out_dir: Path) -> str:
    return text.replace(str(out_dir), "<out>")


def check_golden(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    expected = path.read_text()
    assert actual == expected, "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True)))


# -- a scripted world ------------------------------------------------------------------------------

class World:
    """A recording runner plus fake docker, SSH and bridges that answer like a healthy lab."""

    def __init__(self, tmp_path: Path, topo=TOPO, *, fail_when=None, established=True, vyos_ready=True,
                 ebgp_up=True, existing_bridges=("br-leaf1",), fail_bridges=False, cluster_exists=False,
                 lab_deployed=False, manifest=MANIFEST, images=()):
        self.tmp_path, self.topo, self.manifest = tmp_path, topo, manifest
        self.clusters = topo.cluster.name + "\n" if cluster_exists else ""
        self.deployed = lab_deployed
        self.established = established
        self.vyos_ready, self.ebgp_up = vyos_ready, ebgp_up
        self.runner = RecordingRunner({
            ("kind", "get", "clusters"): lambda argv: Result(argv, 0, self.clusters, ""),
            ("curl",): self._curl,
            ("kind", "create"): self._kind_create,
            ("containerlab", "inspect"): lambda argv: Result(
                argv, 0, json.dumps({topo.name: [{"name": "x"}]} if self.deployed else {}), ""),
            ("kubectl",): self._kubectl,
        }, fail_when=fail_when)
        ips = {topo.cluster.k8s_name(n): str(n.ip) for n in topo.cluster.nodes}
        self.docker_client = FakeDockerClient(
            exec_answer=lambda c, argv: (0, f"7: net0 inet {ips[c]} brd x scope global net0", "")
            if c in ips else (0, "", ""), images=images)
        self.routers = {self.docker_client.address_of(f"clab-{topo.name}-{r.name}"): r for r in topo.routers}
        self.ssh_log = SshLog(self._ssh)
        self.bridges = FakeBridges(existing=existing_bridges, fail_create=fail_bridges)

    def _ssh(self, address, command):
        router = self.routers[address]
        if command.endswith("show interfaces"):
            return 0, vyos_show_interfaces(router, missing=() if self.vyos_ready else ("eth1",)), ""
        bgp = router_bgp(self.topo, router)
        return 0, frr_bgp_summary(str(bgp.router_id), router.asn, bgp.neighbors, self.ebgp_up), ""

    def _kind_create(self, argv):
        # kind writes the new cluster's credentials into the file --kubeconfig names.
        Path(argv[argv.index("--kubeconfig") + 1]).write_text("apiVersion: v1\nkind: Config\n")
        return Result(argv, 0, "", "")

    def _curl(self, argv):
        Path(argv[argv.index("-o") + 1]).write_text(self.manifest)
        return Result(argv, 0, "", "")

    def _kubectl(self, argv):
        if "get" in argv and "pods" in argv and "--field-selector" in argv:
            node = argv[argv.index("--field-selector") + 1].split("=", 1)[1]
            return Result(argv, 0, f"<calico-node pod on {node}>", "")  # the dry run's placeholder, for equality
        if "birdcl" in argv:
            info = "Established" if self.established else "Active Socket: Connection refused"
            state = "up" if self.established else "start"
            return Result(argv, 0, "BIRD v0.3.3+birdv1.6.8 ready.\nname     proto    table    state  since       info\n"
                                   f"Node_10_1_5_1 BGP      master   {state}     10:00:00    {info}\n"
                                   f"Node_10_1_8_1 BGP      master   {state}     10:00:00    {info}\n", "")
        return Result(argv, 0, "", "")

    def provider(self, **options) -> ClabProvider:
        docker = Docker(factory=lambda: self.docker_client)
        kwargs = dict(runner=self.runner, bridges=self.bridges, docker=docker,
                      ssh=VyosSsh(docker, "vyos", "vyos", factory=self.ssh_log), preflight=all_ok,
                      deadline=0.0, interval=0.0, sleep=lambda s: None)
        kwargs.update(options)
        return ClabProvider(self.topo, out_dir=self.tmp_path, **kwargs)


def golden_commands() -> list[str]:
    return [ln for ln in PLAN.read_text().splitlines() if ln and not ln.startswith("#")]


def dry_plan(tmp_path: Path, topo=TOPO, name=None) -> str:
    out = io.StringIO()
    ClabProvider(topo, name, out_dir=tmp_path, dry_run=True, out=out, preflight=all_ok).up(out)
    return out.getvalue()


# -- the plan --------------------------------------------------------------------------------------

def test_dry_run_prints_the_golden_plan_and_writes_every_file(tmp_path):
    plan = dry_plan(tmp_path)
    check_golden(PLAN, normalise(plan, tmp_path))
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["calico/bgp-configuration.yaml", "calico/cluster-resources.yaml", "calico/resources.yaml",
                       "clab.yaml", "frr/leaf0.conf", "frr/leaf1.conf", "frr/spine0.conf", "frr/spine1.conf",
                       "kind.yaml", "startup-conf/leaf0-boot.cfg", "startup-conf/leaf1-boot.cfg",
                       "startup-conf/spine0-boot.cfg", "startup-conf/spine1-boot.cfg", "workload.yaml"]
    assert not (tmp_path / STATE_FILE).exists()  # a dry run records nothing
    steps = [ln for ln in plan.splitlines() if ln.startswith("# step [")]
    assert len(steps) == STEPS
    for title, line in zip(STEP_TITLES, steps):
        assert title in line


def test_dry_run_plan_never_uses_a_shell_and_pins_nothing_it_does_not_know(tmp_path):
    plan = dry_plan(tmp_path)
    commands = [ln for ln in plan.splitlines() if ln and not ln.startswith("#")]
    assert not any(c.split()[0] in ("sh", "bash") or " | " in c or "&&" in c for c in commands)
    # calicoctl's --allow-version-mismatch is an option of the subcommand: last, after the arguments.
    assert all(c.endswith("--allow-version-mismatch") for c in commands if " calicoctl " in f" {c}")
    assert "WARNING: calico.manifest_sha256 is not set" in plan  # the reference lab pins no hash: said, not invented


def test_kind_never_writes_the_users_kubeconfig_and_every_client_uses_the_labs(tmp_path):
    commands = [shlex.split(c) for c in golden_commands()]
    kubeconfig = "<out>/kubeconfig"
    for argv in commands:
        if argv[:2] in (["kind", "create"], ["kind", "delete"], ["kind", "export"]):
            assert argv[argv.index("--kubeconfig") + 1] == kubeconfig, argv
        if argv[0] == "kubectl":
            assert argv[1:5] == ["--kubeconfig", kubeconfig, "--context", "kind-calico-bgp-rr"], argv
        if "calicoctl" in argv:
            assert f"KUBECONFIG={kubeconfig}" in argv and "DATASTORE_TYPE=kubernetes" in argv
    assert any(a[:3] == ["kind", "create", "cluster"] for a in commands)


def test_images_are_pulled_on_the_host_and_loaded_before_the_fabric_takes_the_default_route(tmp_path):
    commands = golden_commands()
    first = {key: next(i for i, c in enumerate(commands) if c.startswith(key))
             for key in ("docker pull", "kind create", "kind load", "containerlab deploy", "kubectl --kubeconfig")}
    assert first["docker pull"] < first["kind create"] < first["kind load"] < first["containerlab deploy"]
    pulled = [c.split()[-1] for c in commands if c.startswith("docker pull")]
    (load,) = [shlex.split(c) for c in commands if c.startswith("kind load")]
    loaded = load[5:]
    assert load[:5] == ["kind", "load", "docker-image", "--name", "calico-bgp-rr"]
    # Every image a node runs is loaded: Calico's three and the demo workload's; each pulled once.
    assert set(loaded) == {f"docker.io/calico/{i}:v3.31.3" for i in ("cni", "node", "kube-controllers")} | \
        {TOPO.workloads.image}
    assert set(loaded) <= set(pulled) and len(pulled) == len(set(pulled))
    assert TOPO.cluster.kind_image in pulled


def test_recorded_up_runs_exactly_the_golden_plan(tmp_path):
    world = World(tmp_path)
    lab = world.provider(deadline=600.0)  # every probe answers at once
    out = io.StringIO()
    lab.up(out)
    assert [normalise(line, tmp_path) for line in world.runner.lines()] == golden_commands()
    assert world.bridges.created == ["br-leaf0"]  # br-leaf1 was there before: used, not created
    # Each router: its interfaces, then its eBGP sessions, read with op-mode commands over SSH.
    op = "/opt/vyatta/bin/vyatta-op-cmd-wrapper"
    assert [c for _, c in world.ssh_log.commands] == [f"{op} show interfaces", f"{op} show ip bgp summary"] * 4
    assert [u for (_, _, u, _) in world.ssh_log.connects] == ["vyos"] * 4
    assert [c for c, _ in world.docker_client.execs] == [f"calico-bgp-rr-{n}" for n in
                                                         ("control-plane", "worker", "worker2", "worker3")]
    manifest = list(yaml.safe_load_all((tmp_path / "calico" / "calico-manifest.yaml").read_text()))
    assert manifest[0]["kind"] == "ConfigMap"  # other documents are kept
    env = {e["name"]: e["value"] for e in manifest[1]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env == {"CALICO_IPV4POOL_IPIP": "Never", "FELIX_LOGSEVERITYSCREEN": "info", "CALICO_IPV4POOL_VXLAN": "Never",
                   "NO_DEFAULT_POOLS": "true", "IP_AUTODETECTION_METHOD": "cidr=10.1.5.0/24,10.1.8.0/24"}
    digest = hashlib.sha256(MANIFEST.encode()).hexdigest()
    assert (tmp_path / "calico" / "calico-upstream.sha256").read_text().startswith(digest)
    assert "WARNING: the Calico manifest is not pinned" in out.getvalue()
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert state["complete"] and state["bridges"] == ["br-leaf0"] and state["preexisting_bridges"] == ["br-leaf1"]
    assert lab.is_up()
    again = io.StringIO()
    lab.up(again)
    assert "already up" in again.getvalue()


def test_images_already_on_the_host_are_not_pulled_again(tmp_path):
    world = World(tmp_path, images=[TOPO.cluster.kind_image, "docker.io/calico/node:v3.31.3"])
    world.provider(deadline=600.0).up(io.StringIO())
    pulled = [c[2] for c in world.runner.commands if c[:2] == ("docker", "pull")]
    assert TOPO.cluster.kind_image not in pulled and "docker.io/calico/node:v3.31.3" not in pulled
    assert "docker.io/calico/cni:v3.31.3" in pulled


def test_progress_is_one_line_per_step(tmp_path):
    world = World(tmp_path)
    out = io.StringIO()
    world.provider(deadline=600.0).up(out)
    lines = [ln for ln in out.getvalue().splitlines() if ln.startswith("[")]
    assert [ln.split("] ", 1)[0] for ln in lines] == [f"[{i}/{STEPS}" for i in range(1, STEPS + 1)]
    assert all(" ok (" in ln for ln in lines)


# -- failures at every step, and down ---------------------------------------------------------------

def _inject(step: int, tmp_path: Path, monkeypatch) -> tuple[World, dict]:
    prefix = ("kubectl", "--kubeconfig", str(tmp_path / "kubeconfig"), "--context", "kind-calico-bgp-rr")
    first = {3: ("curl",), 4: ("docker", "pull"), 5: ("kind", "create"), 6: ("kind", "load"), 7: (*prefix, "taint"),
             9: ("containerlab", "deploy"), 11: (*prefix, "apply", "-f", str(tmp_path / "calico" / "calico-manifest.yaml")),
             12: ("calicoctl", "patch"), 13: (*prefix, "apply", "-f", str(tmp_path / "workload.yaml"))}
    options: dict = {}
    world_options: dict = {}
    if step == 1:
        options["preflight"] = lambda: all_ok() + [Item(CLAB, MISSING, "kind", "not found", "install kind")]
    elif step == 2:
        monkeypatch.setattr(steps_module, "write_files", lambda files, out: (_ for _ in ()).throw(LabError("disk full")))
    elif step == 8:
        world_options["fail_bridges"] = True
    elif step == 10:
        world_options["vyos_ready"] = False
    elif step == 14:
        world_options["established"] = False
    else:
        world_options["fail_when"] = lambda argv, f=first[step]: argv[:len(f)] == f
    return World(tmp_path, **world_options), options


@pytest.mark.parametrize("step", range(1, STEPS + 1), ids=STEP_TITLES)
def test_a_failure_at_any_step_stops_there_and_down_removes_what_was_created(tmp_path, monkeypatch, step):
    world, options = _inject(step, tmp_path, monkeypatch)
    lab = world.provider(**options)
    out = io.StringIO()
    with pytest.raises(StepFailed) as info:
        lab.up(out)
    assert f"step {step}/{STEPS}" in str(info.value) and info.value.title.startswith(STEP_TITLES[step - 1])
    assert out.getvalue().rstrip().endswith("FAILED") or "lab.down" in out.getvalue()
    assert not any(f"] {t}" in out.getvalue() for t in STEP_TITLES[step:])  # the sequence stopped there
    if step == 1:
        assert "MISSING  kind: not found — install kind" in str(info.value)

    # What exists now: kind cleans up a failed create; containerlab leaves its containers.
    created_cluster, deployed, bridged = step > 5, step >= 9, step >= 8
    world.runner.fail_when = None
    world.clusters = "calico-bgp-rr\n" if created_cluster else ""
    world.deployed = deployed
    before = len(world.runner.commands)
    lab.down(io.StringIO())
    down = [normalise(line, tmp_path) for line in world.runner.lines()[before:]]
    assert ("containerlab destroy -t <out>/clab.yaml --cleanup" in down) == deployed
    assert ("kind delete cluster --name calico-bgp-rr --kubeconfig <out>/kubeconfig" in down) == created_cluster
    # Only the bridge this lab created (or had recorded when creating it failed); never br-leaf1.
    assert world.bridges.deleted == (["br-leaf0"] if bridged else [])
    assert not (tmp_path / STATE_FILE).exists()

    # Idempotent: a second down removes nothing.
    before = len(world.runner.commands)
    lab.down(io.StringIO())
    again = world.runner.lines()[before:]
    assert not any("destroy" in c or "delete" in c for c in again)
    assert world.bridges.deleted == (["br-leaf0"] if bridged else [])


def test_down_on_a_lab_that_never_existed_changes_nothing(tmp_path):
    world = World(tmp_path)
    out = io.StringIO()
    world.provider().down(out)
    assert world.runner.lines() == ["kind get clusters"] and world.bridges.ops == []
    assert "removed" in out.getvalue()


def test_down_after_a_crash_during_creation_uses_the_state_written_before_each_action(tmp_path):
    world = World(tmp_path)
    lab = world.provider()
    (tmp_path / STATE_FILE).write_text(json.dumps({"kind": "creating", "containerlab": "creating",
                                                   "bridges": ["br-leaf0"]}))
    world.clusters, world.deployed = "calico-bgp-rr\n", True
    lab.down(io.StringIO())
    lines = [normalise(c, tmp_path) for c in world.runner.lines()]
    assert "containerlab destroy -t <out>/clab.yaml --cleanup" in lines  # clab.yaml re-rendered to name the lab
    assert "kind delete cluster --name calico-bgp-rr --kubeconfig <out>/kubeconfig" in lines
    assert world.bridges.deleted == ["br-leaf0"]


def test_a_failed_removal_keeps_the_record_and_says_so(tmp_path):
    world = World(tmp_path)
    lab = world.provider()
    (tmp_path / STATE_FILE).write_text(json.dumps({"kind": "created", "containerlab": None, "bridges": []}))
    world.clusters = "calico-bgp-rr\n"
    world.runner.fail_when = lambda argv: argv[:2] == ("kind", "delete")
    with pytest.raises(LabError, match="could not be removed"):
        lab.down(io.StringIO())
    assert json.loads((tmp_path / STATE_FILE).read_text())["kind"] == "created"
    world.runner.fail_when = None
    lab.down(io.StringIO())
    assert not (tmp_path / STATE_FILE).exists()


def test_a_cluster_or_lab_it_did_not_create_is_refused_and_left_alone(tmp_path):
    world = World(tmp_path, cluster_exists=True)
    lab = world.provider()
    with pytest.raises(StepFailed, match="already exists and this lab did not create it"):
        lab.up(io.StringIO())
    out = io.StringIO()
    lab.down(out)
    assert not any("delete" in c for c in world.runner.lines())
    assert "left alone" in out.getvalue()

    world = World(tmp_path / "b", lab_deployed=True)
    with pytest.raises(StepFailed, match="already deployed and this lab did not deploy it"):
        world.provider().up(io.StringIO())


def test_up_resumes_after_a_failure_without_recreating(tmp_path):
    world = World(tmp_path, established=False)
    lab = world.provider()
    with pytest.raises(StepFailed, match=f"step {STEPS}/{STEPS}"):
        lab.up(io.StringIO())
    world.established, world.clusters, world.deployed = True, "calico-bgp-rr\n", True
    before = len(world.runner.commands)
    lab.up(io.StringIO())
    again = world.runner.lines()[before:]
    assert not any(c.startswith("kind create") for c in again)  # the cluster is this lab's: reused
    assert world.bridges.created == ["br-leaf0"]  # not created twice


# -- waits: deadlines on a fake clock ----------------------------------------------------------------

def test_waits_poll_until_a_deadline_on_the_clock_never_sleeping_blindly(tmp_path):
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    world = World(tmp_path, vyos_ready=False)
    lab = world.provider(deadline=10.0, interval=2.0, clock=lambda: now[0], sleep=sleep)
    with pytest.raises(StepFailed, match=r"VyOS spine0 .* not ready after 10s; still missing: eth1 10.1.10.2/24"):
        lab.up(io.StringIO())
    # Interfaces not addressed yet: the BGP summary is not even asked for.
    assert sleeps == [2.0] * 5 and len(world.ssh_log.commands) == 6
    assert all(c.endswith("show interfaces") for _, c in world.ssh_log.commands)


def test_a_router_whose_ebgp_is_not_established_is_not_ready(tmp_path):
    world = World(tmp_path, ebgp_up=False)
    with pytest.raises(StepFailed, match=r"step 10/.*spine0 .*still missing: 10.1.10.1 Active, 10.1.34.1 Active"):
        world.provider().up(io.StringIO())
    assert not any(c[:2] == ("kubectl", "--kubeconfig") and "calico-manifest" in " ".join(c)
                   for c in world.runner.commands)  # Calico never goes in over a fabric that is not up


# -- the Calico manifest -----------------------------------------------------------------------------

def test_a_pinned_manifest_must_match(tmp_path):
    good = hashlib.sha256(MANIFEST.encode()).hexdigest()
    pinned = dataclasses.replace(TOPO, calico=dataclasses.replace(TOPO.calico, manifest_sha256=good))
    world = World(tmp_path, pinned)
    out = io.StringIO()
    world.provider(deadline=600.0).up(out)
    assert "not pinned" not in out.getvalue() and not (tmp_path / "calico" / "calico-upstream.sha256").exists()

    wrong = dataclasses.replace(TOPO, calico=dataclasses.replace(TOPO.calico, manifest_sha256="0" * 64))
    world = World(tmp_path / "wrong", wrong)
    with pytest.raises(StepFailed, match="does not match the pinned calico.manifest_sha256"):
        world.provider().up(io.StringIO())
    assert not any(" apply -f " in c and "calico-manifest" in c for c in world.runner.lines())


def test_manifest_edit_leaves_no_default_pool_to_clash_with_the_topologys_pools():
    edited = list(yaml.safe_load_all(set_pool_env(MANIFEST)))
    env = edited[1]["spec"]["template"]["spec"]["containers"][0]["env"]
    names = [e["name"] for e in env]
    # calico-node creates no pool of its own; CALICO_IPV4POOL_CIDR (192.168.0.0/16 here) is gone.
    assert names == ["CALICO_IPV4POOL_IPIP", "FELIX_LOGSEVERITYSCREEN", "CALICO_IPV4POOL_VXLAN", "NO_DEFAULT_POOLS"]
    assert {e["name"]: e["value"] for e in env}["NO_DEFAULT_POOLS"] == "true"
    assert manifest_images(MANIFEST) == ["docker.io/calico/cni:v3.31.3", "docker.io/calico/node:v3.31.3",
                                         "docker.io/calico/kube-controllers:v3.31.3"]
    with pytest.raises(LabError, match="no calico-node DaemonSet"):
        set_pool_env("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(LabError, match="not valid YAML"):
        set_pool_env("a: [")
    digest = hashlib.sha256(b"abc").hexdigest()
    assert verify_sha256(b"abc", digest, "u") == digest == verify_sha256(b"abc", "", "u")
    with pytest.raises(LabError, match="does not match the pinned"):
        verify_sha256(b"abc", "0" * 64, "https://example/calico.yaml")


def test_containerlab_inspect_parsing():
    def answer(text, rc=0):
        return clab_present(Result((), rc, text, ""))
    assert answer("{}") is False and answer("") is False and answer("[]") is False
    assert answer('{"calico-bgp-rr": [{"name": "clab-calico-bgp-rr-leaf0"}]}') is True
    assert answer('[{"name": "clab-x-leaf0"}]') is True
    assert answer("not json") is None and answer("{}", rc=1) is None


# -- what checks use ---------------------------------------------------------------------------------

def test_service_advertisement_is_a_calicoctl_patch_with_a_json_argument(tmp_path):
    world = World(tmp_path)
    world.provider().set_service_cluster_ips(["10.96.0.0/16"])
    (argv,) = world.runner.commands
    assert argv[:4] == ("calicoctl", "patch", "bgpconfiguration", "default") and argv[-1] == "--allow-version-mismatch"
    assert json.loads(argv[argv.index("-p") + 1]) == {"spec": {"serviceClusterIPs": [{"cidr": "10.96.0.0/16"}]}}
    assert world.runner.envs[0] == {"DATASTORE_TYPE": "kubernetes", "KUBECONFIG": str(tmp_path / "kubeconfig")}


def test_pods_and_planned_peers(tmp_path):
    world = World(tmp_path)
    items = {"items": [{"metadata": {"name": "fabriclab-demo-abcde"}, "spec": {"nodeName": "calico-bgp-rr-worker2"},
                        "status": {"podIP": "10.244.1.2"}}]}
    world.runner.answers[("kubectl", "--kubeconfig", str(tmp_path / "kubeconfig"), "--context", "kind-calico-bgp-rr",
                          "-n", "default", "get", "pods")] = Result((), 0, json.dumps(items), "")
    lab = world.provider()
    (pod,) = lab.pods()
    assert (pod.name, pod.node, pod.ip) == ("fabriclab-demo-abcde", "worker2", "10.244.1.2")
    assert lab.planned_peers() == {"control-plane": {"10.1.5.1"}, "worker": {"10.1.5.1"},
                                   "worker2": {"10.1.8.1"}, "worker3": {"10.1.8.1"}}


def test_the_other_topologies_plan_too(tmp_path):
    for name in ("calico-fullmesh", "calico-rr-incluster", "calico-rr-external"):
        topo = load_topology(name)
        out = io.StringIO()
        ClabProvider(topo, out_dir=tmp_path / name, dry_run=True, out=out, preflight=all_ok).up(out)
        plan = out.getvalue()
        assert f"kind create cluster --name {topo.cluster.name}" in plan and "containerlab deploy" in plan
        if name == "calico-rr-incluster":
            assert "label node calico-rr-incluster-control-plane --overwrite route-reflector=true" in plan
            assert '"routeReflectorClusterID": "224.0.0.1"' in plan


def test_the_demo_workload_is_golden():
    text = render_workload(TOPO)
    check_golden(GOLDEN / "workload.calico-bgp-rr.yaml", text)
    daemonset, service = list(yaml.safe_load_all(text))
    spec = daemonset["spec"]["template"]["spec"]
    assert spec["containers"][0]["securityContext"]["privileged"] is True
    assert {"operator": "Exists"} in spec["tolerations"]  # the control plane too
    assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["nodePort"] == 30080


def test_plan_lines_parse_back_to_the_same_argv():
    for line in golden_commands():
        words = shlex.split(line)
        while "=" in words[0] and not words[0].startswith("-"):
            words = words[1:]
        assert words[0] in ("kind", "kubectl", "containerlab", "curl", "calicoctl", "docker")


def test_warn_items_do_not_stop_a_real_run(tmp_path):
    world = World(tmp_path)
    out = io.StringIO()
    warn = Item(CLAB, WARN, "fs.inotify.max_user_watches", "8192", "sysctl -w fs.inotify.max_user_watches=524288")
    world.provider(deadline=600.0, preflight=lambda: all_ok() + [warn]).up(out)
    assert "WARNING: WARN     fs.inotify.max_user_watches: 8192" in out.getvalue()
