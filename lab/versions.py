"""Versions the clab provider pins: one place, read by the loader defaults, the doctor and the
renderers. The end-to-end workflow (.github/workflows/clab-e2e.yml) cannot import Python, so it
repeats them in its `env` block; tests/test_clab_workflow.py fails when the two differ.

Where each pin comes from (looked up in public release notes and docs, not guessed):

- kind v0.30.0 and its node image for Kubernetes 1.34.0, pinned by digest as kind's v0.30.0
  release notes list it (kind asks users to pin node images by digest: an image is built for
  the kind release it ships with).
- Calico v3.31.3 (the newest patch of 3.31 in Calico's component-versions page when this was
  pinned). Calico's system requirements test 3.31 on Kubernetes 1.32-1.35, which covers 1.34.
  The manifest is `manifests/calico.yaml` at the tag (the path exists from v3.24.0; before, the
  manifests lived elsewhere). Calico publishes no sha256 of that file, so none is pinned here:
  `up` prints and records the digest of what it downloaded (set `calico.manifest_sha256`).
- kubectl matches the node image's Kubernetes version; calicoctl matches Calico.
- containerlab v0.79.0: the release whose JSON schema the clab file is validated against.
"""

from __future__ import annotations

KIND_VERSION = "v0.30.0"
KUBERNETES_VERSION = "v1.34.0"
KIND_NODE_IMAGE = ("kindest/node:v1.34.0"
                   "@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a")
CALICO_VERSION = "v3.31.3"
# The first Calico release with manifests/calico.yaml at the tag (before: under the docs site).
CALICO_MANIFEST_SINCE = (3, 24)
CALICOCTL_VERSION = CALICO_VERSION
KUBECTL_VERSION = KUBERNETES_VERSION
CONTAINERLAB_VERSION = "0.79.0"
# Calico's images the manifest runs (docker.io/calico/<name>:<version>), pre-pulled on the host.
CALICO_IMAGES = ("cni", "node", "kube-controllers")


def calico_manifest_url(version: str) -> str:
    return f"https://raw.githubusercontent.com/projectcalico/calico/{version}/manifests/calico.yaml"


def calico_images(version: str) -> list[str]:
    return [f"docker.io/calico/{name}:{version}" for name in CALICO_IMAGES]


def calico_minor(version: str) -> tuple[int, int] | None:
    parts = version.lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None
