"""Name rules for everything a topology file names.

Names end up on command lines (ip, vtysh, docker), in file paths and as Linux
interface names, so they are checked once, here, before anything runs.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable

IFNAMSIZ = 15  # Linux interface names: 16 bytes including the trailing NUL

# DNS-1123 label: what Kubernetes accepts for node names and what is safe everywhere else.
_OBJECT = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_IFACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")

LAB_NAME_MAX = 24


def object_name_problem(name: str) -> str | None:
    if not isinstance(name, str) or not _OBJECT.match(name):
        return (f"'{name}' is not a valid name: use lower-case letters, digits and '-', "
                "starting and ending with a letter or digit (at most 63 characters)")
    return None


def lab_name_problem(name: str) -> str | None:
    problem = object_name_problem(name)
    if problem:
        return problem
    if len(name) > LAB_NAME_MAX:
        return f"'{name}' is too long: lab names have at most {LAB_NAME_MAX} characters"
    return None


def check_lab_name(name, option: str = "--name") -> str:
    """A lab name from the command line, or LabError: it becomes a directory under the run root
    and every namespace name, so '/', '..', spaces and the namespace separator are refused."""
    from .errors import LabError

    if not isinstance(name, str) or not name:
        raise LabError(f"{option}: a lab name is needed (lower-case letters, digits and '-')")
    if lab_name_problem(name):
        raise LabError(f"{option} {name!r} is not a valid lab name: use lower-case letters, digits and '-', "
                       f"starting and ending with a letter or digit, at most {LAB_NAME_MAX} characters")
    return name


# -- the names of one lab's objects ------------------------------------------------------------
# Every derived name is made here (one scheme per kind of name), so no module translates
# between a node's short and Kubernetes names, or builds a namespace name, by hand.

NS_SEPARATOR = "."  # between the lab's prefix and a target: lab names never contain it
LEGACY_NS_PREFIX = "fl-{lab}-"  # labs built before the separator: found again from their state file


def namespace_prefix(lab: str) -> str:
    """Prefix of every network namespace of a netns lab: two labs never share a name."""
    return f"fl-{lab}{NS_SEPARATOR}"


def k8s_node_name(cluster: str, node: str) -> str:
    """Kubernetes (and Calico) name of a node: kind names node containers <cluster>-<node>."""
    return f"{cluster}-{node}"


class NodeNames:
    """A cluster's nodes by their short (topology) and Kubernetes/Calico names, both ways."""

    def __init__(self, cluster: str, nodes: Iterable[str]):
        self.cluster = cluster
        self._k8s = {short: k8s_node_name(cluster, short) for short in nodes}
        self._short = {k8s: short for short, k8s in self._k8s.items()}

    def k8s(self, node: str) -> str:
        """The Kubernetes name of a node given by either name."""
        return node if node in self._short else k8s_node_name(self.cluster, node)

    def short(self, node: str) -> str:
        """The topology name of a node given by either name; a name the topology does not know
        (a Node added to the datastore) comes back as it is."""
        return self._short.get(node, node)

    def known(self, node: str) -> bool:
        return node in self._k8s or node in self._short

    def find(self, node: str) -> str | None:
        """The Kubernetes name of a topology node given by either name, or None."""
        if node in self._short:
            return node
        return self._k8s.get(node)

    def by_k8s(self) -> dict[str, str]:
        """Kubernetes name -> short name, in the topology's order."""
        return dict(self._short)


def iface_name_problem(name: str) -> str | None:
    if not isinstance(name, str) or not _IFACE.match(name):
        return f"'{name}' is not a valid interface name: use letters, digits, '_', '.', '-'"
    if len(name) > IFNAMSIZ:
        return f"'{name}' is too long for a Linux interface name ({len(name)} > {IFNAMSIZ} characters)"
    return None


def label_problem(key: str, value: str) -> str | None:
    if not isinstance(key, str) or not _LABEL_KEY.match(key):
        return f"'{key}' is not a valid Kubernetes label key"
    if not isinstance(value, str) or not _LABEL_VALUE.match(value):
        return f"'{value}' is not a valid Kubernetes label value (quote numbers and booleans)"
    return None


def cali_iface(namespace: str, pod: str) -> str:
    """The host-side name Calico gives a pod's veth: 'cali' + 11 hex digits of a hash."""
    digest = hashlib.sha1(f"{namespace}.{pod}".encode()).hexdigest()
    return "cali" + digest[:11]
