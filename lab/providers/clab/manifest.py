"""The Calico manifest: checked against its pinned sha256, then set to pure BGP (no overlay).

The edit touches only the calico-node container's environment in the
calico-node DaemonSet: IPIP and VXLAN Never, the pod CIDR of the topology, and
(optionally) IP autodetection restricted to the rack subnets, so calico-node
picks the fabric address (net0) rather than kind's docker network address, and
keeps picking it after a restart.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import yaml

from ...errors import LabError

POOL_ENV = ("CALICO_IPV4POOL_IPIP", "CALICO_IPV4POOL_VXLAN", "CALICO_IPV4POOL_CIDR")
AUTODETECT_ENV = "IP_AUTODETECTION_METHOD"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_sha256(data: bytes, expected: str, source: str) -> str:
    """The digest of data; a mismatch with a pinned (non-empty) digest is an error."""
    actual = sha256_hex(data)
    if expected and actual != expected.lower():
        raise LabError(f"{source}: sha256 {actual} does not match the pinned calico.manifest_sha256 {expected}; "
                       "the download is not the manifest the topology pins (refusing to apply it)")
    return actual


def wanted_env(pod_cidr: str, autodetect_cidrs: Sequence[str] = ()) -> dict[str, str]:
    env = {"CALICO_IPV4POOL_IPIP": "Never", "CALICO_IPV4POOL_VXLAN": "Never", "CALICO_IPV4POOL_CIDR": pod_cidr}
    if autodetect_cidrs:
        env[AUTODETECT_ENV] = "cidr=" + ",".join(autodetect_cidrs)
    return env


def set_pool_env(text: str, pod_cidr: str, autodetect_cidrs: Sequence[str] = ()) -> str:
    """The manifest with the calico-node container's env set; other documents are kept as they are."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise LabError(f"the Calico manifest is not valid YAML: {exc}") from exc
    wanted = wanted_env(pod_cidr, autodetect_cidrs)
    found = False
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "DaemonSet" or \
                (doc.get("metadata") or {}).get("name") != "calico-node":
            continue
        for container in doc["spec"]["template"]["spec"].get("containers", []):
            if container.get("name") != "calico-node":
                continue
            env = list(container.get("env") or [])
            present = set()
            for index, entry in enumerate(env):
                name = entry.get("name")
                if name in wanted:
                    env[index] = {"name": name, "value": wanted[name]}  # replaces a valueFrom too
                    present.add(name)
            env += [{"name": k, "value": v} for k, v in wanted.items() if k not in present]
            container["env"] = env
            found = True
    if not found:
        raise LabError("the Calico manifest has no calico-node DaemonSet with a calico-node container")
    return yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True)
