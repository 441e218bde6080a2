"""BIRD configs per Calico version family: golden files, each accepted by the real `bird -p`, and their content.

Regenerate after an intended change: FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_calico_bird.py
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lab.calico.bird import BgpTimers, render_bird, render_rr_host_bird
from lab.calico.resources import parse_resources
from render_helpers import assert_file_matches, stale_files

GOLDEN = Path(__file__).parent / "golden" / "calico"
FAMILIES = {"v3.23": "v3.23.5", "v3.31": "v3.31.0", "v3.32": "v3.32.1"}
REGENERATE = "FABRICLAB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_calico_bird.py"


def doc(kind: str, name: str, spec: str, labels: str = "{}") -> str:
    return f"apiVersion: projectcalico.org/v3\nkind: {kind}\nmetadata:\n  name: {name}\n  labels: {labels}\nspec: {spec}"


def nodes(n: int, base: str = "10.0.0.", rr: tuple[int, ...] = (), extra: str = "") -> list[str]:
    out = []
    for i in range(n):
        cluster = ", routeReflectorClusterID: 224.0.0.1" if i in rr else ""
        labels = "{route-reflector: 'true'}" if i in rr else f"{{rack: rack{i // 2}}}"
        out.append(doc("Node", f"n{i}", f"{{bgp: {{ipv4Address: {base}{10 + i}/24{cluster}{extra}}}}}", labels))
    return out


POOL = doc("IPPool", "pool", "{cidr: 10.244.0.0/16, blockSize: 26}")
MESH_OFF = doc("BGPConfiguration", "default", "{nodeToNodeMeshEnabled: false}")
SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: bgp-secrets, namespace: calico-system}\nstringData: {rr: s3cret}"

CASES = {
    "mesh": ([POOL, *nodes(3)], ()),
    "per-rack-peers": ([MESH_OFF, POOL, *nodes(4, extra=", asNumber: 65005"),
                        doc("BGPPeer", "rack0-to-leaf0", "{peerIP: 10.0.0.1, asNumber: 65005, nodeSelector: \"rack == 'rack0'\"}"),
                        doc("BGPPeer", "rack1-to-leaf1", "{peerIP: 10.0.0.2, asNumber: 65005, nodeSelector: \"rack == 'rack1'\"}")], ()),
    "in-cluster-rrs": ([MESH_OFF, POOL, *nodes(4, rr=(0, 1)),
                        doc("BGPPeer", "peer-to-rrs", "{nodeSelector: '!has(route-reflector)', peerSelector: has(route-reflector)}"),
                        doc("BGPPeer", "rr-mesh", "{nodeSelector: has(route-reflector), peerSelector: has(route-reflector)}")], ()),
    "external-rr": ([MESH_OFF, POOL, *nodes(3), doc("BGPPeer", "to-rr1", "{peerIP: 10.0.0.50, asNumber: 64512}")], ()),
    "password-ttl-peer": ([MESH_OFF, POOL, *nodes(2), SECRET,
                           doc("BGPPeer", "secure", "{peerIP: 192.0.2.1, asNumber: 65100, ttlSecurity: 1, "
                                                    "password: {secretKeyRef: {name: bgp-secrets, key: rr}}, "
                                                    "maxRestartTime: 2m, numAllowedLocalASNumbers: 1, "
                                                    "keepOriginalNextHop: true}")], ("ttl",)),
    "bgp-filter": ([MESH_OFF, POOL, *nodes(2),
                    doc("BGPFilter", "only-pods", "{exportV4: [{cidr: 10.244.0.0/16, matchOperator: NotIn, action: Reject}], "
                                                  "importV4: [{cidr: 10.0.0.0/8, prefixLength: {min: 16, max: 24}, "
                                                  "matchOperator: In, action: Accept}, {action: Reject}]}"),
                    doc("BGPPeer", "upstream", "{peerIP: 192.0.2.1, asNumber: 65100, filters: [only-pods]}")], ("filters",)),
    "disable-bgp-export": ([POOL, doc("IPPool", "quiet", "{cidr: 10.250.0.0/16, disableBGPExport: true, "
                                                         "nodeSelector: \"rack == 'rack0'\"}"), *nodes(3)], ()),
    "mesh-plus-explicit-peer": ([POOL, *nodes(3), doc("BGPPeer", "n0-n1", "{peerIP: 10.0.0.11, asNumber: 64512}")], ()),
    "services-and-communities": ([POOL, *nodes(2),
                                  doc("BGPConfiguration", "default",
                                      "{serviceClusterIPs: [{cidr: 10.96.0.0/12}], serviceExternalIPs: [{cidr: 192.0.2.0/24}], "
                                      "listenPort: 1790, bindMode: NodeIP, ignoredInterfaces: [eth9], logSeverityScreen: Debug, "
                                      "communities: [{name: pods, value: '65000:100'}], "
                                      "prefixAdvertisements: [{cidr: 10.244.0.0/16, communities: [pods, '1:2:3']}]}")], ("ignored",)),
}
NEEDS = {"ttl": 25, "filters": 26, "ignored": 25}


def cases_for(family: str):
    version = FAMILIES[family]
    minor = int(version.split(".")[1])
    return [c for c, (_, needs) in CASES.items() if all(minor >= NEEDS[n] for n in needs)]


def resources(case: str, version: str):
    return parse_resources("\n---\n".join(CASES[case][0]), f"{case}.yaml", version=version)


PARAMS = [(f, c) for f in FAMILIES for c in cases_for(f)]


@pytest.mark.parametrize("family,case", PARAMS, ids=[f"{f}-{c}" for f, c in PARAMS])
def test_bird_golden(family, case):
    rs = resources(case, FAMILIES[family])
    for node in rs.nodes:
        assert_file_matches(GOLDEN / family / case / f"{node.name}.conf",
                            render_bird(rs, node.name, version=FAMILIES[family]), REGENERATE)


def test_no_stale_golden_files():
    expected = {f"{f}/{c}/{n.name}.conf" for f, c in PARAMS for n in resources(c, FAMILIES[f]).nodes}
    assert not stale_files(GOLDEN, expected), f"stale golden files: regenerate with {REGENERATE}"


def _bird_accepts(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "bird.conf"
    path.write_text(text)
    return subprocess.run([shutil.which("bird"), "-p", "-c", str(path)], capture_output=True, text=True)


needs_bird = pytest.mark.skipif(shutil.which("bird") is None, reason="BIRD not installed (apt-get install -y bird)")


@needs_bird
@pytest.mark.parametrize("family,case", PARAMS, ids=[f"{f}-{c}" for f, c in PARAMS])
def test_real_bird_accepts_every_config(tmp_path, family, case):
    rs = resources(case, FAMILIES[family])
    for node in rs.nodes:
        for timers in (None, BgpTimers()):
            text = render_bird(rs, node.name, version=FAMILIES[family], lab_timers=timers)
            result = _bird_accepts(tmp_path, text)
            assert result.returncode == 0, f"{family}/{case}/{node.name}: {result.stderr}\n{text}"


@needs_bird
def test_real_bird_rejects_a_broken_config_and_accepts_the_rr_host(tmp_path):
    assert _bird_accepts(tmp_path, "router id 1.2.3.4;\nprotocol bgp x { neighbor 1.2.3 as 1; }\n").returncode != 0
    host = render_rr_host_bird("rr1", "10.4.0.50", 64512, "1.0.0.1", [("10.4.0.10", 64512)], timers=BgpTimers())
    assert _bird_accepts(tmp_path, host).returncode == 0 and "rr cluster id 1.0.0.1;" in host


def protocol(text: str, name: str) -> str:
    start = text.index(f"protocol bgp {name} ")
    return text[start:text.index("\n}\n", start)]


def test_multihop_ttl_and_timers_follow_the_template():
    old = render_bird(resources("external-rr", "v3.23.5"), "n0", version="v3.23.5")
    template = old[old.index("template bgp bgp_template"):]
    assert "  multihop;" in template.split("\n}")[0]  # v3.23: in the template, every session
    assert "hold time" not in old and "keepalive time" not in old  # calico-node writes none
    new = render_bird(resources("password-ttl-peer", "v3.32.1"), "n0", version="v3.32.1")
    secure = protocol(new, "Global_192_0_2_1")
    assert "ttl security on;\n  multihop 1;" in secure and 'password "s3cret";' in secure
    assert "graceful restart time 120;" in secure and "allow local as 1;" in secure and "next hop keep;" in secure
    rr = render_bird(resources("external-rr", "v3.31.0"), "n0", version="v3.31.0")
    assert "ttl security off;\n  multihop;" in protocol(rr, "Global_10_0_0_50")
    mesh = render_bird(resources("mesh", "v3.32.1"), "n0", version="v3.32.1")
    assert "multihop" not in protocol(mesh, "Mesh_10_0_0_11") and "ttl security" not in mesh
    timed = render_bird(resources("mesh", "v3.32.1"), "n0", version="v3.32.1", lab_timers=BgpTimers(3, 1))
    assert "calico.lab_timers" in timed and "hold time 3;" in timed and "keepalive time 1;" in timed


def test_v3_32_route_attributes():
    text = render_bird(resources("mesh", "v3.32.1"), "n0", version="v3.32.1")
    kernel = text[text.index("filter calico_kernel_programming"):]
    assert "krt_metric = 1024;" in kernel and "krt_metric = 2147483647 - bgp_local_pref;" in kernel
    export = protocol(text, "Mesh_10_0_0_11")
    assert "bgp_local_pref = 2147483647 - krt_metric;" in export  # 2147482623 with krt_metric 1024
    assert "bgp_local_pref > 2147482623" in export
    old = render_bird(resources("mesh", "v3.23.5"), "n0", version="v3.23.5")
    assert "krt_metric" not in old and "bgp_local_pref" not in old


def test_disable_bgp_export_pool_is_rejected_in_the_export_filter():
    for version in FAMILIES.values():
        text = render_bird(resources("disable-bgp-export", version), "n0", version=version)
        export = text[text.index("calico_export_to_bgp_peers"):text.index("filter calico_kernel_programming")]
        assert "10.250.0.0/16" in export and "reject" in export.split("calico_aggr();")[0], version
        assert "if ( net ~ 10.250.0.0/16 ) then {\n    accept;" not in export
        assert "if (net ~ 10.250.0.0/16) then { accept; }" not in export


def test_bgp_filter_functions_and_use():
    text = render_bird(resources("bgp-filter", "v3.32.1"), "n0", version="v3.32.1")
    assert "function 'bgp_only-pods_exportFilterV4'() {\n  if ((net !~ 10.244.0.0/16)) then { reject; }\n}" in text
    assert "if ((net ~ [ 10.0.0.0/8{16,24} ])) then { accept; }\n  reject;\n}" in text
    upstream = protocol(text, "Global_192_0_2_1")
    assert upstream.index("'bgp_only-pods_importFilterV4'();") < upstream.index("accept;")
    assert upstream.index("'bgp_only-pods_exportFilterV4'();") < upstream.index("calico_export_to_bgp_peers(false);")


def test_mesh_plus_explicit_peer_marks_the_shadowed_protocol():
    old = render_bird(resources("mesh-plus-explicit-peer", "v3.23.5"), "n0", version="v3.23.5")
    assert old.index("protocol bgp Mesh_10_0_0_11") < old.index("protocol bgp Global_10_0_0_11")
    assert "start/Idle" in protocol(old, "Global_10_0_0_11") and "start/Idle" not in protocol(old, "Mesh_10_0_0_11")
    new = render_bird(resources("mesh-plus-explicit-peer", "v3.32.1"), "n0", version="v3.32.1")
    assert new.index("protocol bgp Global_10_0_0_11") < new.index("protocol bgp Mesh_10_0_0_11")
    assert "start/Idle" in protocol(new, "Mesh_10_0_0_11")


def test_node_without_ipv4_address_has_bgp_disabled():
    rs = parse_resources("\n---\n".join([POOL, *nodes(2), doc("Node", "v6only", "{bgp: {}}")]), "x.yaml")
    text = render_bird(rs, "v6only")
    assert "IPv4 disabled on this node" in text and "protocol bgp" not in text
    assert "10.0.0.11" not in text
