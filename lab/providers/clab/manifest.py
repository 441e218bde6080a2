"""The Calico manifest: checked against its pinned sha256, then set to pure BGP (no overlay).

The edit touches only the calico-node container's environment in the
calico-node DaemonSet: IPIP and VXLAN Never, `NO_DEFAULT_POOLS=true`, and
(optionally) IP autodetection restricted to the rack subnets, so calico-node
picks the fabric address (net0) rather than kind's docker network address, and
keeps picking it after a restart.

Why no default pool: calico-node creates `default-ipv4-ippool` from
`CALICO_IPV4POOL_CIDR` when no pool exists, and the topology's own pools
(`calico.ip_pools`, applied with calicoctl afterwards) would overlap it, which
calicoctl rejects. With `NO_DEFAULT_POOLS` the pools in force are exactly the
ones the topology renders. The variable is removed if the manifest sets it.

`manifest_images` lists the images the manifest runs, so the provider can pull
them once on the host and `kind load` them into the nodes.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import yaml

from ...errors import LabError

AUTODETECT_ENV = "IP_AUTODETECTION_METHOD"
# Dropped from the manifest: with NO_DEFAULT_POOLS nothing reads it, and leaving it would mislead.
DROPPED_ENV = ("CALICO_IPV4POOL_CIDR",)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_sha256(data: bytes, expected: str, source: str) -> str:
    """The digest of data; a mismatch with a pinned (non-empty) digest is an error."""
    actual = sha256_hex(data)
    if expected and actual != expected.lower():
        raise LabError(f"{source}: sha256 {actual} does not match the pinned calico.manifest_sha256 {expected}; "
                       "the download is not the manifest the topology pins (refusing to apply it)")
    return actual


def wanted_env(autodetect_cidrs: Sequence[str] = ()) -> dict[str, str]:
    env = {"CALICO_IPV4POOL_IPIP": "Never", "CALICO_IPV4POOL_VXLAN": "Never", "NO_DEFAULT_POOLS": "true"}
    if autodetect_cidrs:
        env[AUTODETECT_ENV] = "cidr=" + ",".join(autodetect_cidrs)
    return env


def _documents(text: str) -> list:
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise LabError(f"the Calico manifest is not valid YAML: {exc}") from exc


def manifest_images(text: str) -> list[str]:
    """Every container image the manifest's workloads run (init containers too), in first-seen order."""
    images: list[str] = []
    for doc in _documents(text):
        if not isinstance(doc, dict):
            continue
        pod = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            image = container.get("image")
            if image and image not in images:
                images.append(image)
    return images


def set_pool_env(text: str, autodetect_cidrs: Sequence[str] = ()) -> str:
    """The manifest with the calico-node container's env set; other documents are kept as they are."""
    docs = _documents(text)
    wanted = wanted_env(autodetect_cidrs)
    found = False
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "DaemonSet" or \
                (doc.get("metadata") or {}).get("name") != "calico-node":
            continue
        for container in doc["spec"]["template"]["spec"].get("containers", []):
            if container.get("name") != "calico-node":
                continue
            env = [e for e in container.get("env") or [] if e.get("name") not in DROPPED_ENV]
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
