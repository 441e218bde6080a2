"""Bug bundles: what they hold, how they are checked when read, and a replay that reproduces."""

from __future__ import annotations

import io
import tarfile
import textwrap

import pytest
import yaml

from lab.bugreport.archive import ROOT, read_bundle, write_bundle
from lab.bugreport.collect import REDACTED, redact, redact_text
from lab.bugreport.replay import differences
from lab.commands.bundle import bundle as make_bundle, replay
from lab.errors import LabError
from live_helpers import checks_pass, ctl, fresh_lab, k8s
from netns_helpers import quiet, requires_netns, unique

MINIMAL = {"manifest.yaml": "lab: x\n", "topology.yaml": "name: x\n", "resources/initial.yaml": "",
           "resources/initial-ipam.json": "{}", "changes.yaml": "[]\n", "observed.json": "{}"}


def test_redaction_keeps_secret_references_and_hides_secret_values():
    peer = {"kind": "BGPPeer", "spec": {"peerIP": "10.0.0.1", "password": {"secretKeyRef": {"name": "s", "key": "k"}}}}
    assert redact(peer) == peer
    secret = {"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "hunter2"}, "data": {"k": "aHVudGVyMg=="}}
    assert redact(secret)["stringData"] == {"k": REDACTED} and redact(secret)["data"] == {"k": REDACTED}
    assert redact({"spec": {"nodeMeshPassword": "plain"}})["spec"]["nodeMeshPassword"] == REDACTED
    conf = 'protocol bgp Node_1 from t {\n  password "hunter2";\n}\n'
    assert "hunter2" not in redact_text(conf) and f'password "{REDACTED}"' in redact_text(conf)
    doc = yaml.safe_dump(secret)
    assert "hunter2" not in redact_text(doc) and "aHVudGVyMg" not in redact_text(doc)


def test_a_written_bundle_reads_back(tmp_path):
    path = write_bundle(tmp_path / "b.tar.gz", MINIMAL, "x", "x")
    bundle = read_bundle(path)
    assert bundle.manifest == {"lab": "x"} and bundle.changes == []
    assert "invoke lab.replay b.tar.gz" in bundle.text("README.txt")


def _tar(tmp_path, members: dict[str, bytes], *, link: str | None = None):
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return path


@pytest.mark.parametrize("case,message", [
    ("truncated", "not a readable fabriclab bundle"), ("not-gzip", "not a readable fabriclab bundle"),
    ("dotdot", "unexpected member"), ("absolute", "unexpected member"), ("symlink", "not a regular file"),
    ("missing", "changes.yaml missing"), ("bad-yaml", "does not parse"), ("nothing", "no such file")])
def test_a_damaged_bundle_is_one_clear_error(tmp_path, case, message):
    good = {f"{ROOT}/{k}": v.encode() for k, v in MINIMAL.items()}
    if case == "truncated":
        full = write_bundle(tmp_path / "full.tar.gz", MINIMAL, "x", "x").read_bytes()
        path = tmp_path / "t.tar.gz"
        path.write_bytes(full[: len(full) // 2])
    elif case == "not-gzip":
        path = tmp_path / "n.tar.gz"
        path.write_text("hello")
    elif case == "dotdot":
        path = _tar(tmp_path, {**good, f"{ROOT}/../../etc/x": b"x"})
    elif case == "absolute":
        path = _tar(tmp_path, {**good, "/etc/x": b"x"})
    elif case == "symlink":
        path = _tar(tmp_path, good, link=f"{ROOT}/link")
    elif case == "missing":
        path = _tar(tmp_path, {k: v for k, v in good.items() if not k.endswith("changes.yaml")})
    elif case == "bad-yaml":
        path = _tar(tmp_path, {**good, f"{ROOT}/changes.yaml": b"[unclosed"})
    else:
        path = tmp_path / "absent.tar.gz"
    with pytest.raises(LabError, match=message):
        read_bundle(path)


def test_differences_name_what_only_one_side_has():
    recorded = {"sessions": {"n1": [["Mesh_1", "10.0.0.1", True]]}, "routes": {"n1": [["10.244.0.0/26"]]}}
    same = differences(recorded, recorded)
    assert same == []
    other = {"sessions": {"n1": [["Mesh_1", "10.0.0.1", False]]}, "routes": {"n1": []}}
    lines = differences(recorded, other)
    assert any("recorded only" in x and "True" in x for x in lines)
    assert any("replayed only" in x and "False" in x for x in lines)
    assert any(x.startswith("routes n1: recorded only") for x in lines)


@pytest.mark.netns
@requires_netns
def test_bundle_of_a_migrated_lab_replays_identically_under_another_name(tmp_path):
    lab = fresh_lab("calico-fullmesh", "t-bundle", tmp_path)
    replayed = unique("t-replay")
    try:
        secret_peer = textwrap.dedent("""\
            apiVersion: projectcalico.org/v3
            kind: BGPPeer
            metadata: {name: peer-with-route-reflectors}
            spec: {nodeSelector: all(), peerSelector: route-reflector == 'true'}
            """)
        ctl(lab, "label", "nodes", k8s(lab, "worker"), "route-reflector=true")
        ctl(lab, "patch", "node", k8s(lab, "worker"), "-p", '{"spec": {"bgp": {"routeReflectorClusterID": "224.0.0.1"}}}')
        ctl(lab, "apply", "-f", "-", stdin=secret_peer)
        ctl(lab, "patch", "bgpconfiguration", "default", "-p", '{"spec": {"nodeToNodeMeshEnabled": false}}')
        lab.change_pods(add="worker3", out=io.StringIO())
        lab.apply_fault("link", "worker3", "eth0", False)  # a link fault, and its repair
        lab.apply_fault("link", "worker3", "eth0", True)
        checks_pass(lab, ["bgp-sessions", "routes", "connectivity"], deadline=60)
        path = tmp_path / "bug.tar.gz"
        out = io.StringIO()
        assert make_bundle(lab.lab_name, None, str(path), as_scenario=str(tmp_path / "regression.yaml"), out=out) == 0
        bundle = read_bundle(path)
        from lab.scenarios.model import load_scenario

        scenario = load_scenario(tmp_path / "regression.yaml")
        assert [s.action.kind for s in scenario.steps if s.action] == [
            "calicoctl", "calicoctl", "calicoctl", "calicoctl", "pods", "link", "link"]
        final = scenario.steps[-1].expect.sessions
        assert {s.type for s in final["control-plane"]} == {"node specific"}
        # ... and the regression scenario runs and passes on a lab of its own.
        from lab.commands.scenario import scenario as run_scenario

        out = io.StringIO()
        assert run_scenario(str(tmp_path / "regression.yaml"), unique("t-regress"), out=out) == 0, out.getvalue()[-3000:]
        assert [c["command"].split()[:2] for c in bundle.changes] == [
            ["calicoctl", "label"], ["calicoctl", "patch"], ["calicoctl", "apply"], ["calicoctl", "patch"],
            ["pods", "--add"], ["link", "worker3"], ["link", "worker3"]]
        assert "peer-with-route-reflectors" in bundle.text("resources/now.yaml")
        assert "Calico process is running." in bundle.text("nodes/worker/calicoctl-node-status.txt")
        # --until stops where asked and compares nothing.
        out = io.StringIO()
        assert replay(str(path), replayed, until=2, out=out, stdin=io.StringIO()) == 0
        # The replay's change lines ("[2/7] calicoctl patch ..."), not `up`'s step lines ("[2/7] create ...").
        text = out.getvalue()
        assert "\n[2/7] calicoctl patch" in text and "\n[3/7] calicoctl" not in text and "stopped after change 2" in text
        from lab.providers.netns.provider import NetnsProvider

        NetnsProvider.attach(replayed).down(quiet())
        out = io.StringIO()
        assert replay(str(path), replayed, out=out, stdin=io.StringIO()) == 0, out.getvalue()
        assert "reproduced: sessions and routes identical" in out.getvalue()
    finally:
        from lab.providers.netns.provider import NetnsProvider, remove_lab

        remove_lab(replayed, quiet())
        lab.down(quiet())
    assert not NetnsProvider.exists(replayed)


def test_replay_of_a_corrupted_bundle_creates_nothing(tmp_path):
    from lab.providers.netns.provider import NetnsProvider

    path = tmp_path / "bad.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00broken")
    name = unique("t-nothing")
    with pytest.raises(LabError, match="not a readable fabriclab bundle"):
        replay(str(path), name, out=io.StringIO(), stdin=io.StringIO())
    assert not NetnsProvider.exists(name)
