"""python -m lab.calico, the Calico lint and lab.plan."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from lab.calico.__main__ import main
from lab.calico.lint import lint
from lab.calico.resources import parse_resources
from lab.commands.plan import plan

REPO = Path(__file__).resolve().parent.parent
REFERENCE = str(REPO / "calico" / "resources.yaml")


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_status_json_is_exactly_the_documented_shape():
    code, text = run("status", "--resources", REFERENCE, "--json")
    data = json.loads(text)
    assert code == 0 and set(data) == {"nodes"}
    assert data["nodes"]["calico-bgp-rr-worker3"] == [
        {"protocol": "Node_10_1_8_1", "peer_address": "10.1.8.1", "peer_type": "node specific", "peer_as": 65008,
         "rr_client": False, "holds": True}]
    assert len(data["nodes"]) == 4


def test_status_table_for_one_node_and_unknown_node():
    code, text = run("status", "--resources", REFERENCE, "--node", "calico-bgp-rr-worker")
    assert code == 0 and "| 10.1.5.1     | node specific | up    | -     | Established |" in text
    assert run("status", "--resources", REFERENCE, "--node", "nope")[0] == 2


def test_bird_and_ipam_commands():
    code, text = run("bird", "--resources", REFERENCE, "--node", "calico-bgp-rr-worker2")
    assert code == 0 and "router id 10.1.8.10;" in text and "protocol bgp Node_10_1_8_1" in text
    code, text = run("ipam", "--resources", REFERENCE, "--json")
    assert json.loads(text)["blocks"]["calico-bgp-rr-worker2"] == ["10.244.0.128/26"]


def test_module_entry_point_and_error_exit(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: projectcalico.org/v3\nkind: Banana\nmetadata: {name: x}\n")
    proc = subprocess.run([sys.executable, "-m", "lab.calico", "status", "--resources", str(bad)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "unsupported kind 'Banana'" in proc.stderr and "Traceback" not in proc.stderr


LINT_CASE = """
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {nodeToNodeMeshEnabled: false}
---
apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: a, labels: {rr: 'true'}}
spec: {bgp: {ipv4Address: 10.0.0.1/24, routeReflectorClusterID: 1.1.1.1}}
---
apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: b, labels: {rr: 'true'}}
spec: {bgp: {ipv4Address: 10.0.0.2/24}}
---
apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: lonely, labels: {}}
spec: {bgp: {ipv4Address: 10.0.0.3/24, asNumber: 65001}}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: to-rrs}
spec: {nodeSelector: "has(rr)", peerSelector: "rr == 'true'"}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: nobody}
spec: {nodeSelector: "zone == 'mars'", peerIP: 10.0.0.254, asNumber: 65002}
"""


def test_lint_findings():
    findings = [str(f) for f in lint(parse_resources(LINT_CASE, "lint.yaml"))]
    assert "warning: BGPPeer/nobody: nodeSelector \"zone == 'mars'\" selects no node" in findings
    assert any(f.startswith("warning: BGPPeer/to-rrs: peerSelector picks b as peers but they have no "
                            "routeReflectorClusterID") for f in findings)
    assert any(f.startswith("error: Node/lonely: node-to-node mesh is off") for f in findings)


def test_lint_reference_lab_is_clean_and_ebgp_hint(tmp_path):
    assert lint(parse_resources(Path(REFERENCE).read_text(), REFERENCE)) == []
    text = Path(REFERENCE).read_text().replace("asNumber: 65005\n  nodeSelector", "asNumber: 65099\n  nodeSelector")
    findings = [str(f) for f in lint(parse_resources(text, "x.yaml"))]
    assert any("peers with 10.1.5.1 (AS 65099) from AS 65005: eBGP" in f for f in findings), findings


def test_lab_plan_for_a_topology():
    out = io.StringIO()
    assert plan("calico-rr-incluster", out=out) == 0
    text = out.getvalue()
    assert "calico-rr-incluster-worker4  AS 64512  blocks: 10.244.1.0/26" in text
    assert text.count("IPv4 BGP status") == 5 and "lint: no findings" in text
    out = io.StringIO()
    plan("calico-bgp-rr", as_json=True, out=out)
    data = json.loads(out.getvalue())
    assert data["ipam"]["calico-bgp-rr-worker"] == ["10.244.0.64/26"] and data["lint"] == []


def test_bird_from_the_cli_is_exactly_what_the_lab_runs(tmp_path):
    from lab.loader import load_topology
    from lab.providers.netns.blueprint import build_blueprint
    from render_helpers import topology_variant

    topologies = [load_topology(name) for name in ("calico-bgp-rr", "calico-fullmesh", "calico-rr-incluster")]
    topologies.append(topology_variant(tmp_path, lambda d: d["calico"].update(lab_timers=True, version="v3.32.1"),
                                       base="calico-fullmesh"))
    for topo in topologies:
        for daemon in build_blueprint(topo).bird:
            if daemon.k8s_name is None:
                continue
            code, text = run("bird", "--topology", str(topo.source), "--node", daemon.k8s_name)
            assert code == 0 and text == daemon.config, f"{topo.name}/{daemon.k8s_name}"
    timed = build_blueprint(topologies[-1]).bird[0].config
    assert "hold time 3;" in timed and "calico.lab_timers" in timed and "krt_metric" in timed
    assert "hold time" not in build_blueprint(topologies[0]).bird[0].config


def test_bird_cli_version_and_timer_flags():
    code, text = run("bird", "--resources", REFERENCE, "--node", "calico-bgp-rr-worker", "--calico-version", "v3.32.1",
                     "--lab-timers", "9,3")
    assert code == 0 and "hold time 9;" in text and "keepalive time 3;" in text and "Calico v3.32.1" in text
    assert run("bird", "--resources", REFERENCE, "--node", "calico-bgp-rr-worker", "--lab-timers", "x")[0] == 2
    assert run("bird", "--resources", REFERENCE, "--node", "calico-bgp-rr-worker", "--calico-version", "v2.6")[0] == 2
