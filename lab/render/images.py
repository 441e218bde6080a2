"""The container images a clab lab runs, and where each one has to be.

Pulled once on the host (`docker pull`) before anything starts, then the ones the
Kubernetes nodes run are copied into every kind node with `kind load docker-image`.
Why: once containerlab gives the nodes their fabric address, their default route goes
through a VyOS leaf, and their containerd pulling from a registry depends on the
leaf's NAT and on the laptop's own uplink; pulled on the host, each image is fetched
once (not once per node, which is also what keeps a lab inside Docker Hub's anonymous
pull limit) and before the fabric exists. The VyOS image is never pulled: no public
registry serves it (see contrib/vyos/).
"""

from __future__ import annotations

from .. import model as m
from ..versions import calico_images
from .clab import RR_IMAGE, SERVER_IMAGE


def node_images(topo: m.Topology, calico: list[str] | None = None) -> list[str]:
    """What kind nodes run: Calico's images (from the manifest when known) and the demo workload."""
    images = list(calico if calico is not None else calico_images(topo.calico.version))
    if topo.workloads.image not in images:
        images.append(topo.workloads.image)
    return images


def host_images(topo: m.Topology, calico: list[str] | None = None) -> list[str]:
    """Every image pulled on the host: the kind node image, the node images, the containerlab ones."""
    images = [topo.cluster.kind_image, *node_images(topo, calico), SERVER_IMAGE]
    if topo.hosts:
        images.append(RR_IMAGE)
    return list(dict.fromkeys(images))
