"""The clab provider, tested by contract: Docker, kind, containerlab, calicoctl and VyOS are not on
our machines, so every command is recorded by a fake runner and compared with a golden plan.

Regenerate the golden plan after an intended change:
    FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_clab.py
"""

from __future__ import annotations

import difflib
import io
import json
import os
from pathlib import Path

import pytest
import yaml

from lab.commands.doctor import doctor
from lab.errors import LabError
from lab.exec import Result
from lab.loader import load_topology
from lab.providers.base import StepFailed
from lab.providers.clab.manifest import set_pool_env, verify_sha256
from lab.providers.clab.provider import ClabProvider
from lab.runner import RecordingRunner

GOLDEN = Path(__file__).parent / "golden" / "clab" / "calico-bgp-rr.plan.txt"
MANIFEST = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: calico-node, namespace: kube-system}
spec:
  template:
    spec:
      containers:
      - name: calico-node
        env:
        - {name: CALICO_IPV4POOL_IPIP, value: Always}
        - {name: FELIX_LOGSEVERITYSCREEN, value: info}
"""


def all_tools(name):
    return f"/usr/local/bin/{name}"


class FakeBridges:
    def __init__(self, existing=(), fail=False):
        self.existing, self.fail = set(existing), fail
        self.created, self.deleted = [], []

    def create(self, name):
        if self.fail:
            raise LabError(f"cannot create {name}")
        if name in self.existing:
            return False
        self.created.append(name)
        return True

    def delete(self, name):
        self.deleted.append(name)


def _normalise(text: str, out_dir: Path) -> str:
    return text.replace(str(out_dir), "<out>").replace(str(Path.home()), "<home>")


def test_dry_run_plan_matches_golden_and_writes_every_file(tmp_path):
    out = io.StringIO()
    lab = ClabProvider(load_topology("calico-bgp-rr"), out_dir=tmp_path, dry_run=True, out=out, which=all_tools)
    lab.up(out)
    plan = _normalise(out.getvalue(), tmp_path)
    if os.environ.get("FABRICLAB_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(plan)
    expected = GOLDEN.read_text()
    assert plan == expected, "".join(difflib.unified_diff(expected.splitlines(True), plan.splitlines(True)))
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["calico/cluster-resources.yaml", "calico/resources.yaml", "clab.yaml", "frr/leaf0.conf", "frr/leaf1.conf", "frr/spine0.conf",
                       "frr/spine1.conf", "kind.yaml", "startup-conf/leaf0-boot.cfg", "startup-conf/leaf1-boot.cfg",
                       "startup-conf/spine0-boot.cfg", "startup-conf/spine1-boot.cfg", "workload.yaml"]
    assert not (tmp_path / "clab-state.json").exists()  # a dry run records nothing


def _birdc_established(argv):
    # Every calico-node answers with its planned leaf session Established.
    return Result(argv, 0, "BIRD v0.3.3+birdv1.6.8 ready.\nname proto table state since info\n"
                           "Node_10_1_5_1 BGP master up 10:00:00 Established\nNode_10_1_8_1 BGP master up 10:00:00 Established\n", "")


def _recording(tmp_path, fail_when=None):
    def curl(argv):
        Path(argv[argv.index("-o") + 1]).write_text(MANIFEST)
        return Result(argv, 0, "", "")

    answers = {("kind", "get", "clusters"): Result((), 0, "", ""), ("curl",): curl}
    runner = RecordingRunner(answers, fail_when=fail_when)
    runner.answers[("kubectl", "--context", "kind-calico-bgp-rr", "-n", "kube-system", "exec")] = _birdc_established
    return runner


def _provider(tmp_path, runner, bridges=None, **kwargs):
    topo = load_topology("calico-bgp-rr")
    ips = {topo.cluster.k8s_name(n): str(n.ip) for n in topo.cluster.nodes}
    options = dict(node_exec=lambda container, argv: f"3: net0 inet {ips[container]} scope global net0",
                   ssh=lambda container, command: True, which=all_tools, deadline=0.0, interval=0.0,
                   sleep=lambda s: None)
    options.update(kwargs)
    return ClabProvider(topo, out_dir=tmp_path, runner=runner, bridges=bridges or FakeBridges(), **options)


def test_recorded_up_runs_exactly_the_golden_plan(tmp_path):
    runner = _recording(tmp_path)
    bridges = FakeBridges()
    lab = _provider(tmp_path, runner, bridges, deadline=600.0)  # every probe answers at once
    lab.up(io.StringIO())
    commands = [" ".join(c) for c in runner.commands]
    golden = [line for line in GOLDEN.read_text().splitlines() if line and not line.startswith("#")]
    golden_argv = [" ".join(__import__("shlex").split(line.replace("DATASTORE_TYPE=kubernetes ", "")
                                                        .replace("KUBECONFIG=<home>/.kube/config ", "")))
                   for line in golden]
    recorded = [_normalise(c, tmp_path) for c in commands]
    # The recorded run asks kubectl for the calico-node pod names; the dry run shows placeholders.
    assert [c for c in recorded if "jsonpath" not in c and " exec " not in c] == \
           [g for g in golden_argv if "jsonpath" not in g and " exec " not in g]
    assert bridges.created == ["br-leaf0", "br-leaf1"]
    manifest = yaml.safe_load((tmp_path / "calico" / "calico-manifest.yaml").read_text())
    env = {e["name"]: e.get("value") for e in manifest["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CALICO_IPV4POOL_IPIP"] == "Never" and env["CALICO_IPV4POOL_VXLAN"] == "Never"
    assert env["CALICO_IPV4POOL_CIDR"] == "10.244.0.0/16" and env["FELIX_LOGSEVERITYSCREEN"] == "info"
    assert lab.is_up()
    out = io.StringIO()
    lab.up(out)
    assert "already up" in out.getvalue()


STEPS = ["pre-flight", "render", "kind create", "taint", "bridges", "containerlab deploy", "wait for VyOS",
         "install Calico", "apply BGPConfiguration", "demo workload", "Established"]


@pytest.mark.parametrize("index,step", list(enumerate(STEPS, 1)), ids=STEPS)
def test_failure_at_any_step_stops_and_down_removes_what_was_created(tmp_path, index, step, monkeypatch):
    fail_when = None
    bridges = FakeBridges(existing={"br-leaf1"})  # a bridge that was there before: never ours to delete
    kwargs = {}
    if step == "pre-flight":
        kwargs["which"] = lambda name: None if name == "containerlab" else all_tools(name)
    elif step == "render":
        import lab.providers.clab.provider as module

        monkeypatch.setattr(module, "write_all", lambda topo, out: (_ for _ in ()).throw(LabError("disk full")))
    elif step == "bridges":
        bridges.fail = True
    elif step == "wait for VyOS":
        kwargs["ssh"] = lambda container, command: False
    else:
        first = {"kind create": ("kind", "create"), "taint": ("kubectl", "--context", "kind-calico-bgp-rr", "taint"),
                 "containerlab deploy": ("containerlab", "deploy"), "install Calico": ("curl",),
                 "apply BGPConfiguration": ("calicoctl", "--allow-version-mismatch", "apply"),
                 "demo workload": ("kubectl", "--context", "kind-calico-bgp-rr", "apply", "-f", str(tmp_path / "workload.yaml")),
                 "Established": ("kubectl", "--context", "kind-calico-bgp-rr", "-n", "kube-system", "exec")}[step]
        fail_when = lambda argv: argv[:len(first)] == first  # noqa: E731
    runner = _recording(tmp_path, fail_when)
    if step == "Established":
        runner.answers.pop(("kubectl", "--context", "kind-calico-bgp-rr", "-n", "kube-system", "exec"))
    lab = _provider(tmp_path, runner, bridges, **{k: v for k, v in kwargs.items() if k != "which"})
    if "which" in kwargs:
        lab.which = kwargs["which"]
    with pytest.raises(StepFailed) as info:
        lab.up(io.StringIO())
    assert info.value.title.startswith(lab_step_title(lab, index)) and f"step {index}/11" in str(info.value)
    before_down = len(runner.commands)
    runner.fail_when = None
    runner.answers[("kind", "get", "clusters")] = Result((), 0, "calico-bgp-rr\n" if index > 3 else "", "")
    lab.down(io.StringIO())
    down = [" ".join(c) for c in runner.commands[before_down:]]
    assert ("kind delete cluster --name calico-bgp-rr" in down) == (index > 3)
    assert any(c.startswith("containerlab destroy") for c in down) == (index > 2)  # the clab file exists once rendered
    assert bridges.deleted == (["br-leaf0"] if index > 5 else [])
    lab.down(io.StringIO())  # idempotent


def lab_step_title(lab, index):
    titles = ["pre-flight", "render", "kind create cluster", "remove the control-plane taint", "create rack bridges",
              "containerlab deploy", "wait for VyOS", "install Calico", "apply BGPConfiguration", "deploy the demo workload",
              "wait until every planned BGP peer"]
    return titles[index - 1]


def test_service_patch_is_a_calicoctl_patch(tmp_path):
    runner = _recording(tmp_path)
    _provider(tmp_path, runner).set_service_cluster_ips(["10.96.0.0/16"])
    (argv,) = runner.commands
    assert argv[:5] == ("calicoctl", "--allow-version-mismatch", "patch", "bgpconfiguration", "default")
    assert json.loads(argv[-1]) == {"spec": {"serviceClusterIPs": [{"cidr": "10.96.0.0/16"}]}}


def test_access_maps_targets_to_containers(tmp_path):
    runner = _recording(tmp_path)
    access = _provider(tmp_path, runner).access()
    access.exec("leaf0", ["ip", "link", "set", "eth1", "down"])
    access.exec("worker2", ["ip", "route"])
    access.vtysh("spine1", "show bgp summary json")
    access.birdc("worker3", "show protocols")
    commands = [" ".join(c) for c in runner.commands]
    assert commands[0] == "docker exec clab-calico-bgp-rr-leaf0 ip link set eth1 down"
    assert commands[1] == "docker exec calico-bgp-rr-worker2 ip route"
    assert commands[2] == "docker exec clab-calico-bgp-rr-spine1 vtysh -c show bgp summary json"
    assert "--field-selector spec.nodeName=calico-bgp-rr-worker3" in commands[3]
    assert commands[4].endswith("-c calico-node -- birdcl -s /var/run/calico/bird.ctl show protocols")


def test_manifest_edit_and_pin():
    edited = yaml.safe_load(set_pool_env(MANIFEST, "10.244.0.0/16"))
    names = [e["name"] for e in edited["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert names.count("CALICO_IPV4POOL_IPIP") == 1 and "CALICO_IPV4POOL_VXLAN" in names
    with pytest.raises(LabError, match="no calico-node DaemonSet"):
        set_pool_env("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "10.0.0.0/8")
    import hashlib

    assert verify_sha256(b"abc", hashlib.sha256(b"abc").hexdigest(), "u") == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(LabError, match="does not match the pinned"):
        verify_sha256(b"abc", "0" * 64, "https://example/calico.yaml")


def test_doctor_on_a_host_without_docker_or_kind():
    netns_bins = {"ip", "zebra", "bgpd", "vtysh", "bird", "birdc", "tcpdump", "ping"}

    def which(name):
        return f"/usr/bin/{name}" if name in netns_bins else None

    out = io.StringIO()
    code = doctor("clab", None, out=out, which=which, docker_ping=lambda: None)
    text = out.getvalue()
    assert code == 1
    assert "MISSING [clab] docker engine: not reachable at unix:///var/run/docker.sock" in text
    assert "MISSING [clab] kind: not found — install kind" in text and "clab provider: NOT ready on this host" in text
    if os.geteuid() == 0:
        assert doctor("netns", None, out=io.StringIO(), which=which, docker_ping=lambda: None) == 0
    out = io.StringIO()
    assert doctor("netns", None, out=out, which=lambda n: None, docker_ping=lambda: None) == 1
    assert "MISSING [netns] bird: not found — apt-get install -y bird" in out.getvalue()


def test_runners():
    from lab.runner import DryRunRunner, SubprocessRunner

    result = SubprocessRunner().run(["sh", "-c", "echo $FABRICLAB_T"], env={"FABRICLAB_T": "x y"})
    assert result.stdout.strip() == "x y" and result.rc == 0
    with pytest.raises(LabError, match=r"`FABRICLAB_T=1 sh -c 'exit 3'` failed \(rc 3\)"):
        SubprocessRunner().run(["sh", "-c", "exit 3"], env={"FABRICLAB_T": "1"})
    assert SubprocessRunner().run(["no-such-command-here"], check=False).rc == 127
    out = io.StringIO()
    dry = DryRunRunner(out)
    assert dry.run(["calicoctl", "patch", "node", "n", "-p", '{"a": 1}'], env={"K": "v w"}).rc == 0
    dry.note("pyroute2: ip link add br0 type bridge")
    assert out.getvalue() == "K='v w' calicoctl patch node n -p '{\"a\": 1}'\n# pyroute2: ip link add br0 type bridge\n"
