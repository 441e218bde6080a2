"""A bug bundle on disk: one .tar.gz of plain files a person can read, checked when read back.

Reading never trusts the archive: only regular files under the bundle's own directory,
bounded in count and size, and the files replay needs must be there and parse; anything
else is one clear error before a lab is touched.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from ..errors import LabError

ROOT = "fabriclab-bundle"
MAX_FILES = 20_000
MAX_BYTES = 512 * 1024 * 1024
REQUIRED = ("manifest.yaml", "topology.yaml", "resources/initial.yaml", "resources/initial-ipam.json",
            "changes.yaml", "observed.json")

README = """\
fabriclab bug bundle
====================

A lab ({lab}, topology {topology}) as it was on {created}, with its history.

  manifest.yaml            fabriclab, Calico, FRR and BIRD versions, kernel
  topology.yaml            the topology the lab was built from
  resources/initial.yaml   the Calico resources it started with (passwords redacted unless
                           the bundle was made with --include-secrets)
  resources/now.yaml       the resources in force when the bundle was made
  changes.yaml             every change since, in order: calicoctl commands with the
                           documents they read, pod changes, faults
  observed.json            sessions and routes of every speaker (what replay compares)
  nodes/, routers/, hosts/ calicoctl node status, ip route, show bgp summary, show ip route
  configs/, logs/          every daemon's rendered config and log
  reports/, captures/      the last lab.test / scenario reports, pcaps if asked for

Rebuild it anywhere (Debian/Ubuntu, root, a fabriclab checkout):

  invoke lab.replay {name} [--name NEW] [--until STEP] [--step]

It builds the same lab, applies the changes in order and says whether the sessions and
routes came out identical.
"""


@dataclass
class Bundle:
    files: dict[str, bytes]

    def text(self, name: str) -> str:
        return self.files[name].decode()

    @property
    def manifest(self) -> dict:
        return yaml.safe_load(self.text("manifest.yaml"))

    @property
    def changes(self) -> list[dict]:
        return yaml.safe_load(self.text("changes.yaml")) or []

    @property
    def initial_documents(self) -> list[dict]:
        return [d for d in yaml.safe_load_all(self.text("resources/initial.yaml")) if d]

    @property
    def initial_ipam(self) -> dict:
        return json.loads(self.text("resources/initial-ipam.json"))

    @property
    def observed(self) -> dict:
        return json.loads(self.text("observed.json"))


def write_bundle(path: str | Path, files: dict[str, str | bytes], lab: str, topology: str) -> Path:
    path = Path(path)
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    files = {"README.txt": README.format(lab=lab, topology=topology, created=created, name=path.name), **files}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tarfile.open(tmp, "w:gz") as tar:
            for name, content in files.items():
                data = content.encode() if isinstance(content, str) else content
                info = tarfile.TarInfo(f"{ROOT}/{name}")
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
                tar.addfile(info, io.BytesIO(data))
        tmp.replace(path)
    except OSError as exc:
        raise LabError(f"cannot write the bundle {path}: {exc.strerror or exc}") from None
    return path


def read_bundle(path: str | Path) -> Bundle:
    path = Path(path)
    where = f"{path}: not a readable fabriclab bundle"
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = PurePosixPath(member.name)
                if not member.isfile():
                    if member.isdir():
                        continue
                    raise LabError(f"{where}: {member.name} is not a regular file")
                if name.is_absolute() or ".." in name.parts or name.parts[0] != ROOT or len(name.parts) < 2:
                    raise LabError(f"{where}: unexpected member {member.name}")
                total += member.size
                if len(files) >= MAX_FILES or total > MAX_BYTES:
                    raise LabError(f"{where}: larger than a bundle can be ({MAX_FILES} files, {MAX_BYTES >> 20} MiB)")
                handle = tar.extractfile(member)
                files[str(PurePosixPath(*name.parts[1:]))] = handle.read() if handle else b""
    except FileNotFoundError:
        raise LabError(f"{path}: no such file") from None
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:  # truncated, corrupted, not gzip
        raise LabError(f"{where} ({exc})") from None
    missing = [f for f in REQUIRED if f not in files]
    if missing:
        raise LabError(f"{where}: {', '.join(missing)} missing")
    bundle = Bundle(files)
    try:
        bundle.manifest, bundle.changes, bundle.initial_documents, bundle.initial_ipam, bundle.observed
    except (yaml.YAMLError, ValueError, UnicodeDecodeError) as exc:
        raise LabError(f"{where}: a file inside does not parse ({exc})") from None
    return bundle
