"""Names inside one topology that would be one namespace: refused at load time.

Every router, Calico node, host, pod and rack bridge becomes a namespace named
after it (`fl-<lab>.<name>`), a target of `lab.exec` and a directory of the run
dir. A router called `worker` next to a node `worker`, or a router called
`worker-pod0` next to node `worker`'s first pod, used to pass validation and
fail half-way through `up` with "left by another program". Here the second
owner of a name is an error naming its file, line and field and the first owner.
"""

from __future__ import annotations

from typing import Any

from . import model as m
from .errors import TopologyError
from .names import pod_name

_WHY = "every router, node, host, pod and rack bridge is a namespace of its own, so their names must differ"


def _line(doc: Any, *keys: str) -> int | None:
    """The line of doc[keys[0]]...[keys[-1]]'s key (the deepest one present)."""
    line = getattr(doc, "line", None)
    for key in keys:
        key_line = getattr(doc, "key_line", None)
        if key_line is None or not isinstance(doc, dict) or key not in doc:
            break
        line = key_line(key)
        doc = doc[key]
    return line


def owners(routers, racks, routers_doc: Any, racks_doc: Any, cluster: m.Cluster | None = None,
           cluster_doc: Any = None, hosts=(), hosts_doc: Any = None) -> list[tuple[str, str, str, int | None]]:
    """(name, what it is, the field that names it, line) for every namespace named so far,
    in the order of the file's sections."""
    found: list[tuple[str, str, str, int | None]] = []
    for rack in racks:
        found.append((rack.bridge, f"the bridge of rack {rack.name}", f"racks.{rack.name}.bridge",
                      _line(racks_doc, rack.name, "bridge")))
    for router in routers:
        found.append((router.name, f"a {router.role}", f"fabric.routers.{router.name}", _line(routers_doc, router.name)))
    nodes = cluster.nodes if cluster is not None else ()
    nodes_doc = cluster_doc.get("nodes") if isinstance(cluster_doc, dict) else None
    for node in nodes:
        found.append((node.name, "a Calico node", f"cluster.nodes.{node.name}", _line(nodes_doc, node.name)))
    for host in hosts:
        found.append((host.name, "a host", f"hosts.{host.name}", _line(hosts_doc, host.name)))
    for node in nodes:
        for index in range(node.pods):
            found.append((pod_name(node.name, index), f"pod {index} of node {node.name}",
                          f"cluster.nodes.{node.name}", _line(nodes_doc, node.name)))
    return found


def check_name_clashes(file: str, routers, racks, routers_doc: Any, racks_doc: Any, cluster: m.Cluster | None = None,
                       cluster_doc: Any = None, hosts=(), hosts_doc: Any = None) -> None:
    """TopologyError at the second owner of a name. Called with routers and racks alone before
    the links are read (a link would otherwise call a router's name a bridge), then with all."""
    first: dict[str, tuple[str, str, int | None]] = {}
    for name, what, field, line in owners(routers, racks, routers_doc, racks_doc, cluster, cluster_doc,
                                          hosts, hosts_doc):
        if name in first:
            other_what, other_field, other_line = first[name]
            at = f" (line {other_line})" if other_line else ""
            raise TopologyError(file, field, f"'{name}' ({what}) is also the name of {other_what}, "
                                f"{other_field}{at}: {_WHY}", line)
        first[name] = (what, field, line)
