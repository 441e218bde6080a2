"""The Calico manifest: verified against its pinned sha256, then set to pure BGP (no overlay)."""

from __future__ import annotations

import hashlib

import yaml

from ...errors import LabError

POOL_ENV = ("CALICO_IPV4POOL_IPIP", "CALICO_IPV4POOL_VXLAN", "CALICO_IPV4POOL_CIDR")


def verify_sha256(data: bytes, expected: str, source: str) -> str:
    actual = hashlib.sha256(data).hexdigest()
    if expected and actual != expected:
        raise LabError(f"{source}: sha256 {actual} does not match the pinned calico.manifest_sha256 {expected}")
    return actual


def set_pool_env(text: str, pod_cidr: str) -> str:
    """The calico-node DaemonSet's pool settings: IPIP and VXLAN Never, the pod CIDR."""
    docs = list(yaml.safe_load_all(text))
    wanted = {"CALICO_IPV4POOL_IPIP": "Never", "CALICO_IPV4POOL_VXLAN": "Never", "CALICO_IPV4POOL_CIDR": pod_cidr}
    found = False
    for doc in docs:
        if not doc or doc.get("kind") != "DaemonSet" or doc.get("metadata", {}).get("name") != "calico-node":
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            if container.get("name") != "calico-node":
                continue
            env = [e for e in container.get("env", []) if e.get("name") not in wanted]
            env += [{"name": k, "value": v} for k, v in wanted.items()]
            container["env"] = env
            found = True
    if not found:
        raise LabError("the Calico manifest has no calico-node DaemonSet with a calico-node container")
    return yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True)
