"""VyOS config.boot: well-formed, only CLI nodes the dialect defines, and the reference lab's facts (DESIGN §2)."""

from __future__ import annotations

import re

import pytest

from lab.errors import LabError
from lab.loader import load_topology
from lab.render.vyos import render_vyos
from render_helpers import REFERENCE, TOPOLOGIES, parse_vyos, path_matches, rendered, topology_variant, vyos_paths

# Every `set` path the renderer may write, per dialect, as VyOS defines it:
# 1.4: vyos/vyos-1x tag 1.4.0 (interface-definitions/include/bgp/protocol-common-config.xml.i,
#      afi-maximum-paths, afi-nexthop-self, afi-route-reflector-client, neighbor-passive, system_ip.xml.in,
#      system_login.xml.in, service_ssh.xml.in);
# 1.2 / 1.3: vyos/vyatta-cfg-quagga branches crux / equuleus (templates/protocols/bgp/node.tag/...),
#      vyos/vyatta-cfg-system branch crux (templates/system/ip/multipath/layer4-hashing).
# 1.5 (circinus, 1.5 Stream) keeps every 1.4 node used here.
# NAT (VyOS's NAT44 docs): 1.4+ `nat source rule N outbound-interface name IF`, before `... outbound-interface IF`.
COMMON = [
    "interfaces ethernet * address *",
    "interfaces ethernet * mtu *",
    "nat source rule * description *",
    "nat source rule * source address *",
    "nat source rule * translation address masquerade",
    "interfaces loopback lo",
    "service ssh port *",
    "system host-name *",
    "system ip multipath layer4-hashing",
    "system login user * authentication plaintext-password *",
]
BGP = [
    "address-family ipv4-unicast network *",
    "neighbor * address-family ipv4-unicast",
    "neighbor * address-family ipv4-unicast route-reflector-client",
    "neighbor * address-family ipv4-unicast nexthop-self",
    "neighbor * description *",
    "neighbor * passive",
    "neighbor * remote-as *",
    "neighbor * timers connect *",
    "parameters router-id *",
    "parameters bestpath as-path multipath-relax",
    "timers holdtime *",
    "timers keepalive *",
]
AF_PATHS = ["address-family ipv4-unicast maximum-paths ebgp *", "address-family ipv4-unicast maximum-paths ibgp *"]
TOP_PATHS = ["maximum-paths ebgp *", "maximum-paths ibgp *"]
NAT_NAMED, NAT_BARE = ["nat source rule * outbound-interface name eth0"], ["nat source rule * outbound-interface eth0"]
ALLOWED = {
    "1.4": COMMON + NAT_NAMED + [f"protocols bgp {p}" for p in BGP + AF_PATHS + ["system-as *"]],
    "1.3": COMMON + NAT_BARE + [f"protocols bgp * {p}" for p in BGP + AF_PATHS],
    "1.2": COMMON + NAT_BARE + [f"protocols bgp * {p}" for p in BGP + TOP_PATHS],
}
ALLOWED["1.5"] = ALLOWED["1.4"]
RACK_OF = {"leaf0": "10.1.5.0/24", "leaf1": "10.1.8.0/24"}

# DESIGN §2, written out independently of the topology file and the fabric intent.
ROUTERS = {
    "spine0": (500, {"eth1": "10.1.10.2/24", "eth2": "10.1.34.2/24"}),
    "spine1": (800, {"eth1": "10.1.12.2/24", "eth2": "10.1.11.2/24"}),
    "leaf0": (65005, {"eth1": "10.1.10.1/24", "eth2": "10.1.12.1/24", "eth3": "10.1.5.1/24"}),
    "leaf1": (65008, {"eth1": "10.1.34.1/24", "eth2": "10.1.11.1/24", "eth3": "10.1.8.1/24"}),
}
NEIGHBORS = {  # router -> {peer address: (remote AS, towards a rack node)}
    "spine0": {"10.1.10.1": (65005, False), "10.1.34.1": (65008, False)},
    "spine1": {"10.1.12.1": (65005, False), "10.1.11.1": (65008, False)},
    "leaf0": {"10.1.10.2": (500, False), "10.1.12.2": (800, False), "10.1.5.10": (65005, True), "10.1.5.11": (65005, True)},
    "leaf1": {"10.1.34.2": (500, False), "10.1.11.2": (800, False), "10.1.8.10": (65008, True), "10.1.8.11": (65008, True)},
}


def _configs(topo) -> dict[str, str]:
    return {r.name: render_vyos(topo, r) for r in topo.routers}


def _bgp(tree: dict, version: str, asn: int) -> dict:
    if version in ("1.4", "1.5"):
        bgp = tree["protocols"]["bgp"]
        assert bgp["system-as"] == str(asn)
        return bgp
    assert list(tree["protocols"]) == [f"bgp {asn}"]
    return tree["protocols"][f"bgp {asn}"]


def _check_reference_facts(configs: dict[str, str], version: str) -> None:
    router_ids = set()
    for name, text in configs.items():
        asn, interfaces = ROUTERS[name]
        tree = parse_vyos(text)
        assert tree["system"]["host-name"] == name
        assert {k: v["address"] for k, v in tree["interfaces"].items() if k.startswith("ethernet ")} == {
            f"ethernet {i}": a for i, a in interfaces.items()}
        # One MTU on every fabric interface: the 1500 containerlab's links are given too.
        assert {v["mtu"] for k, v in tree["interfaces"].items() if k.startswith("ethernet ")} == {"1500"}
        # A rack's leaf masquerades the rack subnet out of eth0 (management); spines translate nothing.
        rules = (tree.get("nat") or {}).get("source") or {}
        if name in RACK_OF:
            (rule,) = rules.values()
            assert rule["source"]["address"] == RACK_OF[name] and rule["translation"]["address"] == "masquerade"
            outbound = rule["outbound-interface"]
            assert outbound == ({"name": "eth0"} if version in ("1.4", "1.5") else "eth0")
        else:
            assert rules == {}
        bgp = _bgp(tree, version, asn)
        router_ids.add(bgp["parameters"]["router-id"])
        neighbors = {k.split(" ", 1)[1]: v for k, v in bgp.items() if k.startswith("neighbor ")}
        assert set(neighbors) == set(NEIGHBORS[name])
        for peer, (remote_as, to_node) in NEIGHBORS[name].items():
            n = neighbors[peer]
            assert n["remote-as"] == str(remote_as)
            unicast = n["address-family"]["ipv4-unicast"]  # present for every peer: it activates the family
            assert ("route-reflector-client" in unicast) == to_node, f"{name} -> {peer}"
            assert ("nexthop-self" in unicast) == to_node, f"{name} -> {peer}"
            assert ("passive" in n) == to_node, f"{name} -> {peer}: the leaf waits for its nodes"
        unicast = bgp["address-family"]["ipv4-unicast"]
        networks = {k.split(" ", 1)[1] for k in unicast if k.startswith("network ")}
        subnets = {re.sub(r"\.\d+/24$", ".0/24", a) for a in interfaces.values()}
        assert networks == subnets, f"{name} announces its link subnets (and the rack subnet on a leaf)"
        paths = unicast.get("maximum-paths") or bgp["maximum-paths"]
        assert int(paths["ebgp"]) >= 2 and int(paths["ibgp"]) >= 2
        if name.startswith("leaf"):
            assert "multipath-relax" in bgp["parameters"]["bestpath"]["as-path"]
        assert "layer4-hashing" in tree["system"]["ip"]["multipath"]
    assert len(router_ids) == len(configs), "router IDs must be unique"


def _only_allowed_paths(text: str, version: str) -> list[str]:
    return [p for p in vyos_paths(parse_vyos(text)) if not any(path_matches(p, pat) for pat in ALLOWED[version])]


def _variant(tmp_path, version: str, hold: int | None = 4):
    def change(doc):
        doc["fabric"]["vyos_version"] = version
        if hold is not None:
            doc["fabric"]["timers"] = {"keepalive": 1, "hold": hold}

    return topology_variant(tmp_path, change)


def test_vyos_1_5_reference_facts():
    topo = load_topology(REFERENCE)
    assert topo.vyos_version == "1.5"  # the default: 1.5 Stream is what users can build (contrib/vyos)
    configs = _configs(topo)
    _check_reference_facts(configs, "1.5")
    leaf0 = parse_vyos(configs["leaf0"])
    assert leaf0["protocols"]["bgp"]["timers"] == {"holdtime": "3", "keepalive": "1"}
    assert leaf0["protocols"]["bgp"]["neighbor 10.1.10.2"]["description"] == '"spine0:eth1"'


@pytest.mark.parametrize("version", ["1.2", "1.3", "1.4"])
def test_older_syntax_reference_facts(tmp_path, version):
    configs = _configs(_variant(tmp_path, version))
    _check_reference_facts(configs, version)
    if version == "1.4":
        return
    assert all("system-as" not in text for text in configs.values())
    leaf1 = parse_vyos(configs["leaf1"])["protocols"]["bgp 65008"]
    if version == "1.2":
        assert leaf1["maximum-paths"] == {"ebgp": "8", "ibgp": "8"}
        assert "maximum-paths" not in leaf1["address-family"]["ipv4-unicast"]
    else:
        assert "maximum-paths" not in leaf1 and "maximum-paths" in leaf1["address-family"]["ipv4-unicast"]
    assert leaf1["timers"]["holdtime"] == "4"


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_vyos_1_5_uses_only_nodes_vyos_defines(topology):
    configs = {rel: text for rel, text in rendered(topology).items() if rel.startswith("startup-conf/")}
    for rel, text in configs.items():
        assert _only_allowed_paths(text, "1.5") == [], rel


@pytest.mark.parametrize("version", ["1.2", "1.3", "1.4"])
def test_older_syntax_uses_only_nodes_vyos_defines(tmp_path, version):
    for name, text in _configs(_variant(tmp_path, version)).items():
        assert _only_allowed_paths(text, version) == [], name


def test_allow_list_catches_a_node_in_the_wrong_place(tmp_path):
    text = _configs(_variant(tmp_path, "1.2"))["leaf0"]
    assert _only_allowed_paths(text, "1.3") == ["protocols bgp 65005 maximum-paths ebgp 8",
                                                "protocols bgp 65005 maximum-paths ibgp 8"]
    # The 1.4+ NAT spelling is caught in a 1.3 config.
    (tmp_path / "b").mkdir()
    text = _configs(_variant(tmp_path / "b", "1.4"))["leaf0"].replace("outbound-interface {\n", "outbound-interface x {\n")
    assert "nat source rule 100 outbound-interface x name eth0" in _only_allowed_paths(text, "1.4")


@pytest.mark.parametrize("version, start, marker", [
    ("1.5", "// Warning: Do not remove the following line.", "// Release version: 1.5-stream-2025-Q1"),
    ("1.4", "// Warning: Do not remove the following line.", "// Release version: 1.4.0"),
    ("1.3", "// Warning: Do not remove the following line.", "// Release version: 1.3.0"),
    ("1.2", "/* Warning: Do not remove the following line. */", "/* Release version: 1.2.8 */"),
])
def test_version_footer(tmp_path, version, start, marker):
    topo = _variant(tmp_path, version)
    text = render_vyos(topo, topo.router("spine0"))
    footer = text.rstrip("\n").split("\n")[-3:]
    assert footer[0] == start and footer[2] == marker
    # The form VyOS's own parser expects (vyos-1x python/vyos/component_version.py).
    pattern = (r'// vyos-config-version:\s+"([\w,-]+@\d+:)+([\w,-]+@\d+)"\s*' if version != "1.2"
               else r'/\* === vyatta-config-version: "([\w,-]+@\d+:)+([\w,-]+@\d+)" === \*/')
    assert re.fullmatch(pattern, footer[1])
    if version in ("1.4", "1.5"):
        assert '"bgp@5:' in footer[1] and ":system@27:" in footer[1]
    if version == "1.5":
        assert ":interfaces@33:" in footer[1] and ":nat@8:" in footer[1]


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_a_hold_time_older_vyos_refuses_is_an_error(tmp_path, version):
    topo = _variant(tmp_path, version, hold=3)
    with pytest.raises(LabError, match=rf"VyOS {version} accepts a BGP hold time of 0 or 4\.\.65535 s.*hold: 4"):
        render_vyos(topo, topo.router("leaf0"))


def test_the_parser_used_here_rejects_broken_configs():
    with pytest.raises(AssertionError, match="left open"):
        parse_vyos("protocols {\n    bgp {\n    }\n")
    with pytest.raises(AssertionError, match="without an open node"):
        parse_vyos("system {\n}\n}\n")
    with pytest.raises(AssertionError, match="twice"):
        parse_vyos("system {\n    host-name a\n    host-name b\n}\n")
