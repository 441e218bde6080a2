"""The topology loader's field readers: every value read names its file, line and field.

Split from lab/loader.py (one class, too long to read in one sitting): `_Base` holds the
readers, loader_cluster.py the cluster/hosts/Calico sections, loader.py the rest.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, ip_network, ip_address
from pathlib import Path
from typing import Any, Callable, NoReturn, TypeVar

from . import versions
from .errors import TopologyError
from .names import object_name_problem
from .yamlsrc import Fields

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY_DIR = REPO_ROOT / "topologies"
CALICO_DIR = REPO_ROOT / "calico"
DEFAULT_TOPOLOGY = "calico-bgp-rr"

ASN_MIN, ASN_MAX = 1, 4294967295
# Pinned in lab/versions.py (where each pin comes from is written there).
CALICO_DEFAULT_VERSION = versions.CALICO_VERSION
KIND_DEFAULT_IMAGE = versions.KIND_NODE_IMAGE
VYOS_VERSIONS = ("1.2", "1.3", "1.4", "1.5")
VYOS_DEFAULT_VERSION = "1.5"
MAX_BRIDGE_PORTS = 1023  # Linux BR_MAX_PORTS (1024) less the reserved port 0


class _Base:
    def __init__(self, path: Path, resource_dir: Path | None = None, lenient_resources: bool = False):
        self.path = path
        self.file = _display(path)
        self.resource_dir = Path(resource_dir) if resource_dir else path.parent
        self.lenient_resources = lenient_resources
        # multipath_relax as written (None: not given), until resolve_multipath decides it.
        self.relax_given: dict[str, bool | None] = {}

    # -- helpers ---------------------------------------------------------------------------

    def fields(self, data: Any, where: str, line: int | None = None) -> Fields:
        return Fields(data, where, self.file, TopologyError, line)

    def fail(self, where: str, problem: str, line: int | None) -> NoReturn:
        raise TopologyError(self.file, where, problem, line)

    def name(self, value: Any, where: str, line: int | None) -> str:
        problem = object_name_problem(value)
        if problem:
            self.fail(where, problem, line)
        return value

    def optional(self, f: Fields, key: str, kind: type, check: Callable[[Fields, str, Any], T]) -> T | None:
        """An optional field, checked by `check` (asn_value, network_value) when it is there."""
        value = f.opt(key, kind)
        return None if value is None else check(f, key, value)

    def asn(self, f: Fields, key: str) -> int:
        return self.asn_value(f, key, f.req(key, int))

    def asn_value(self, f: Fields, key: str, value: int) -> int:
        if not ASN_MIN <= value <= ASN_MAX:
            f.fail(key, f"AS number {value} is out of range ({ASN_MIN}..{ASN_MAX})")
        return value

    def network(self, f: Fields, key: str) -> IPv4Network:
        return self.network_value(f, key, f.req(key, str))

    def network_value(self, f: Fields, key: str, value: str) -> IPv4Network:
        try:
            net = ip_network(value, strict=True)
        except ValueError as exc:
            f.fail(key, f"'{value}' is not a valid IPv4 network ({exc})")
        if not isinstance(net, IPv4Network):
            f.fail(key, f"'{value}' is not IPv4 (only IPv4 labs are supported)")
        return net

    def ipv4(self, value: Any, f: Fields, key: str) -> IPv4Address:
        try:
            addr = ip_address(str(value))
        except ValueError:
            f.fail(key, f"'{value}' is not a valid IPv4 address")
        if not isinstance(addr, IPv4Address):
            f.fail(key, f"'{value}' is not IPv4")
        return addr

    # -- top level -------------------------------------------------------------------------


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
