"""The demo workload of the clab lab: one network-tools pod per node and a NodePort Service."""

from __future__ import annotations

import yaml

from .. import model as m

APP = "fabriclab-demo"


def workload_documents(topo: m.Topology) -> list[dict]:
    labels = {"app": APP}
    daemonset = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": APP, "namespace": "default", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    # Runs on the control plane too, like the reference lab's demo.
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{
                        "name": "tools", "image": topo.workloads.image,
                        "command": ["sleep", "infinity"],
                        "securityContext": {"privileged": True},
                        "ports": [{"containerPort": 80}],
                    }],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": APP, "namespace": "default"},
        "spec": {"type": "NodePort", "selector": labels,
                 "ports": [{"port": 80, "targetPort": 80, "nodePort": topo.workloads.node_port}]},
    }
    return [daemonset, service]


def render_workload(topo: m.Topology) -> str:
    return yaml.safe_dump_all(workload_documents(topo), sort_keys=False, explicit_start=True)
