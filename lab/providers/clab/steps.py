"""`lab.up --provider clab`: the ordered steps, each one status line; the first failure stops the run.

The order is what makes a laptop lab come up:
- the Calico manifest is fetched and every image is pulled on the host *before* the cluster
  exists, and the images the nodes run are `kind load`ed into them before containerlab gives
  the nodes their default route through a leaf (see lab/render/images.py);
- kind writes its kubeconfig into the lab's directory only (`--kubeconfig`), never ~/.kube/config;
- a router is ready when its interfaces have their addresses and its eBGP sessions are
  Established (readiness.py), read over SSH with VyOS's op-mode commands;
- Calico's resources go in before the mesh goes off (DESIGN §3 migration order).

Every state change is recorded in the state file before it is made (state.py).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import yaml

from ... import model as m
from ...calico.peering import plan_peering
from ...calico.resources import parse_resources
from ...calico.status import parse_birdc_protocols
from ...errors import EnvironmentProblem, LabError
from ...render import render_all, write_files
from ...render.clab import render_clab
from ...render.images import host_images, node_images
from ...render.workload import APP, render_workload
from ..base import Step
from .access import ClabAccess, router_container
from .context import LONG_COMMAND, ClabContext, clab_present
from .manifest import manifest_images, set_pool_env, verify_sha256
from .readiness import ebgp_neighbors, interfaces_missing, sessions_missing
from .state import CREATED, CREATING

TAINTS = ("node-role.kubernetes.io/control-plane:NoSchedule-", "node-role.kubernetes.io/master:NoSchedule-")
VYOS_OP = "/opt/vyatta/bin/vyatta-op-cmd-wrapper"


def clab_inspect(ctx: ClabContext) -> bool | None:
    return clab_present(ctx.run("containerlab", "inspect", "-t", str(ctx.clab_file), "--format", "json",
                                check=False))


def resources(ctx: ClabContext):
    """The Calico resources this lab applies (the rendered file, else rendered now)."""
    path = ctx.calico_dir / "resources.yaml"
    if path.is_file():
        return parse_resources(path.read_text(), str(path))
    from ...render.calico import render_calico

    return parse_resources(render_calico(ctx.topo), f"{ctx.topo.name} (rendered)")


def planned_peers(ctx: ClabContext) -> dict[str, set[str]]:
    """Per topology node, the peer addresses `calicoctl node status` must show Established."""
    plan = plan_peering(resources(ctx))
    return {n.name: {s.peer_address for s in plan.get(ctx.topo.cluster.k8s_name(n), ())}
            for n in ctx.topo.cluster.nodes}


class UpSteps:
    def __init__(self, ctx: ClabContext, preflight_items, access: ClabAccess):
        self.ctx, self.preflight_items, self.access = ctx, preflight_items, access

    def steps(self) -> list[Step]:
        ctx, topo = self.ctx, self.ctx.topo
        racks = ", ".join(r.bridge for r in topo.racks)
        return [
            Step("pre-flight: root, kernel, docker engine, kind, containerlab, kubectl, calicoctl, VyOS image, "
                 "inotify limits, image pulls", self.preflight),
            Step(f"render kind config, clab file, VyOS configs, Calico resources, demo workload into {ctx.out_dir}",
                 self.render),
            Step(f"fetch the Calico {topo.calico.version} manifest, check its sha256, set pure BGP (no overlay, "
                 "no default pool)", self.fetch_calico),
            Step("pull the lab's images on the host (only those not present)", self.pull_images),
            Step(f"kind create cluster {ctx.cluster} (kubeconfig in the lab directory)", self.kind_create),
            Step("kind load the node images into every node (before the fabric takes the default route)",
                 self.kind_load),
            Step("remove the control-plane taint", self.untaint),
            Step(f"create rack bridges {racks}", self.create_bridges),
            Step(f"containerlab deploy {ctx.clab_file.name}", self.clab_deploy),
            Step("wait for VyOS routers (interfaces addressed, eBGP Established) and node addresses",
                 self.wait_fabric),
            Step(f"install Calico {topo.calico.version}, wait for calico-node", self.install_calico),
            Step("apply Node settings, BGPPeers, IPPools, BGPConfiguration (mesh off last)", self.apply_calico),
            Step(f"deploy the demo workload ({APP} DaemonSet + NodePort Service)", self.workload),
            Step("wait until every planned BGP peer is Established", self.wait_sessions),
        ]

    # -- before anything exists --------------------------------------------------------------

    def preflight(self) -> None:
        from ...doctor import MISSING, OK

        ctx = self.ctx
        items = self.preflight_items()
        ctx.note("pre-flight: " + ", ".join(i.name for i in items))
        problems = [i for i in items if i.status == MISSING]
        for item in items:
            if item.status == OK:
                continue
            if ctx.dry_run:
                ctx.note(f"pre-flight: {item.line()}" + (" (a real run stops here)" if item in problems else ""))
            elif item not in problems:
                ctx.warn(item.line())
        if problems and not ctx.dry_run:
            raise EnvironmentProblem("the clab provider cannot run on this host:\n" +
                                     "\n".join(f"  {i.line()}" for i in problems) +
                                     "\n  (`invoke lab.doctor --provider clab` explains every item)")

    def render(self) -> None:
        ctx = self.ctx
        files = render_all(ctx.topo)
        files["clab.yaml"] = render_clab(ctx.topo, ctx.port_scope)
        files["workload.yaml"] = render_workload(ctx.topo)
        for path in write_files(files, ctx.out_dir):
            ctx.note(f"wrote {path}")
        for path in self._split_calico_resources():
            ctx.note(f"wrote {path}")

    def _calico_docs(self) -> list[dict]:
        return [d for d in yaml.safe_load_all((self.ctx.calico_dir / "resources.yaml").read_text()) if d]

    def _split_calico_resources(self) -> list[Path]:
        """Node documents become patches; BGPConfiguration (which turns the mesh off) is applied last."""
        docs = self._calico_docs()
        written = []
        for name, chosen in (("cluster-resources.yaml", [d for d in docs if d["kind"] not in ("Node", "BGPConfiguration")]),
                             ("bgp-configuration.yaml", [d for d in docs if d["kind"] == "BGPConfiguration"])):
            path = self.ctx.calico_dir / name
            path.write_text(yaml.safe_dump_all(chosen, sort_keys=False, explicit_start=True) if chosen else "")
            written.append(path)
        return written

    @property
    def _manifest(self) -> Path:
        return self.ctx.calico_dir / "calico-manifest.yaml"

    def fetch_calico(self) -> None:
        ctx, calico = self.ctx, self.ctx.topo.calico
        upstream = ctx.calico_dir / "calico-upstream.yaml"
        autodetect = sorted({str(ctx.topo.rack(n.rack).subnet) for n in ctx.topo.cluster.nodes})
        ctx.run("curl", "-fsSL", "--retry", "3", "-o", str(upstream), calico.manifest_url)
        if ctx.dry_run:
            ctx.note(f"verify sha256 of {upstream.name} against calico.manifest_sha256 "
                     f"({calico.manifest_sha256 or 'not pinned: a real run records the computed digest and warns'})")
            ctx.note(f"edit the calico-node DaemonSet env: CALICO_IPV4POOL_IPIP=Never, CALICO_IPV4POOL_VXLAN=Never, "
                     f"NO_DEFAULT_POOLS=true (the pools are the topology's, applied with calicoctl), "
                     f"IP_AUTODETECTION_METHOD=cidr={','.join(autodetect)}; write {self._manifest}")
            if not calico.manifest_sha256:
                ctx.warn(f"calico.manifest_sha256 is not set: the manifest {calico.manifest_url} is not pinned")
            return
        try:
            data = upstream.read_bytes()
        except OSError as exc:
            raise LabError(f"the Calico manifest was not downloaded to {upstream}: {exc}") from exc
        digest = verify_sha256(data, calico.manifest_sha256, calico.manifest_url)
        if not calico.manifest_sha256:
            record = ctx.calico_dir / "calico-upstream.sha256"
            record.write_text(f"{digest}  {calico.manifest_url}\n")
            ctx.warn(f"the Calico manifest is not pinned (calico.manifest_sha256 is not set); this download has "
                     f"sha256 {digest}, recorded in {record}. Pin it in the topology after checking it.")
        self._manifest.write_text(set_pool_env(data.decode(), autodetect))

    def _calico_images(self) -> list[str] | None:
        """The images the edited manifest runs (None in a dry run: the pinned version's images)."""
        if self.ctx.dry_run or not self._manifest.is_file():
            return None
        return manifest_images(self._manifest.read_text())

    def pull_images(self) -> None:
        ctx = self.ctx
        for image in host_images(ctx.topo, self._calico_images()):
            if not ctx.docker.image_present(image):
                ctx.run("docker", "pull", image, timeout=LONG_COMMAND)
        ctx.state.done("images")

    # -- the cluster -------------------------------------------------------------------------

    def kind_create(self) -> None:
        ctx = self.ctx
        state = ctx.state.load()
        existing = ctx.run("kind", "get", "clusters").stdout.split()
        if ctx.cluster in existing and not state["kind"]:
            raise LabError(f"a kind cluster named {ctx.cluster} already exists and this lab did not create it: "
                           f"delete it (`kind delete cluster --name {ctx.cluster}`) or give this lab another "
                           "name (--name)")
        if ctx.cluster not in existing:
            ctx.state.update(kind=CREATING)
            # kind writes the cluster's kubeconfig into the lab directory only: ~/.kube/config is never touched.
            ctx.run("kind", "create", "cluster", "--name", ctx.cluster, "--image", ctx.topo.cluster.kind_image,
                    "--config", str(ctx.out_dir / "kind.yaml"), "--kubeconfig", str(ctx.kubeconfig),
                    timeout=LONG_COMMAND)
        ctx.state.update(kind=CREATED)
        if not ctx.dry_run and not ctx.kubeconfig.is_file():
            # A cluster recorded as ours from an earlier, interrupted run: its kubeconfig again, lab-local.
            ctx.run("kind", "export", "kubeconfig", "--name", ctx.cluster, "--kubeconfig", str(ctx.kubeconfig))
        ctx.state.done("kind")

    def kind_load(self) -> None:
        ctx = self.ctx
        ctx.run("kind", "load", "docker-image", "--name", ctx.cluster,
                *node_images(ctx.topo, self._calico_images()), timeout=LONG_COMMAND)
        ctx.state.done("kind-load")

    def untaint(self) -> None:
        ctx = self.ctx
        for node in ctx.topo.cluster.nodes:
            if node.role != m.CONTROL_PLANE:
                continue
            name = ctx.topo.cluster.k8s_name(node)
            for taint in TAINTS:
                result = ctx.kubectl("taint", "nodes", name, taint, check=False)
                # kubectl refuses to remove a taint the node does not carry ("not found"): that is the goal anyway.
                if result.rc != 0 and "not found" not in (result.stderr + result.stdout):
                    raise LabError(f"removing taint {taint} from {name} failed: "
                                   f"{(result.stderr or result.stdout).strip()[:300]}")
        ctx.state.done("untaint")

    # -- the fabric --------------------------------------------------------------------------

    def create_bridges(self) -> None:
        ctx = self.ctx
        for rack in ctx.topo.racks:
            state = ctx.state.load()
            if rack.bridge in state["bridges"]:
                if not ctx.bridges.exists(rack.bridge):
                    ctx.bridges.create(rack.bridge)
                continue
            if ctx.bridges.exists(rack.bridge):
                # Not ours: containerlab uses it, `down` leaves it alone.
                ctx.state.add_bridge(rack.bridge, "preexisting_bridges")
                ctx.note(f"bridge {rack.bridge} already exists (not created by this lab): used, never deleted")
                continue
            ctx.state.add_bridge(rack.bridge)  # recorded before it exists: a crash in between leaves nothing unrecorded
            ctx.bridges.create(rack.bridge)
        ctx.state.done("bridges")

    def clab_deploy(self) -> None:
        ctx = self.ctx
        if clab_inspect(ctx) and not ctx.state.load()["containerlab"]:
            raise LabError(f"containerlab lab {ctx.lab_name} is already deployed and this lab did not deploy it: "
                           "`containerlab destroy -t <its topology file>` first, or give this lab another name (--name)")
        ctx.state.update(containerlab=CREATING)
        ctx.run("containerlab", "deploy", "-t", str(ctx.clab_file), "--reconfigure", timeout=LONG_COMMAND)
        ctx.state.update(containerlab=CREATED)
        ctx.state.done("containerlab")

    def _router_ready(self, router: m.Router, container: str, last: dict) -> bool:
        ssh = self.ctx.ssh
        try:
            interfaces = ssh.run(container, f"{VYOS_OP} show interfaces")
            missing = interfaces_missing(interfaces.stdout, router)
            if not missing or self.ctx.dry_run:  # a dry run shows both probes
                summary = ssh.run(container, f"{VYOS_OP} show ip bgp summary")
                missing = sessions_missing(summary.stdout, ebgp_neighbors(self.ctx.topo, router))
        except LabError as exc:
            missing = [str(exc)]
        last[router.name] = missing
        return not missing

    def wait_fabric(self) -> None:
        ctx = self.ctx
        last: dict[str, list[str]] = {}
        for router in ctx.topo.routers:
            container = router_container(ctx.topo, router.name)
            neighbors = ", ".join(map(str, ebgp_neighbors(ctx.topo, router))) or "none"
            if ctx.dry_run:
                ctx.note(f"poll until {router.name} shows every interface address up (show interfaces) and eBGP "
                         f"to {neighbors} Established (show ip bgp summary)")
            try:
                ctx.poll(f"VyOS {router.name} ({container}) interfaces and eBGP",
                         functools.partial(self._router_ready, router, container, last))
            except LabError as exc:
                raise LabError(f"{exc}; still missing: {', '.join(last.get(router.name, ['?']))}") from None
        for node in ctx.topo.cluster.nodes:
            name = ctx.topo.cluster.k8s_name(node)
            want = f"inet {node.ip}"

            def has_address(container=name, want=want) -> bool:
                try:
                    result = ctx.docker.exec(container, ["ip", "-4", "-o", "addr", "show", "dev", "net0"], timeout=10)
                except LabError:
                    return False
                return result.rc == 0 and want in result.stdout
            ctx.poll(f"node-ip {node.ip} on net0 inside {name}", has_address)
        ctx.state.done("fabric")

    # -- Calico and the workload -------------------------------------------------------------

    def install_calico(self) -> None:
        ctx = self.ctx
        ctx.kubectl("apply", "-f", str(self._manifest))
        ctx.kubectl("-n", "kube-system", "rollout", "status", "daemonset/calico-node",
                    "--timeout", f"{ctx.deadline:g}s", timeout=ctx.deadline + 60)
        ctx.state.done("calico")

    def apply_calico(self) -> None:
        ctx = self.ctx
        # Peers, pools and node settings first, the mesh off last: no moment without routes (DESIGN §3).
        for doc in (d for d in self._calico_docs() if d["kind"] == "Node"):
            name = doc["metadata"]["name"]
            ctx.calicoctl("patch", "node", name, "-p", json.dumps({"spec": {"bgp": doc["spec"]["bgp"]}}))
            # Node labels live on the Kubernetes node (calico-node syncs them); rack= comes from the kind config.
            extra = {k: v for k, v in (doc["metadata"].get("labels") or {}).items() if k != m.RACK_LABEL}
            if extra:
                ctx.kubectl("label", "node", name, "--overwrite", *[f"{k}={v}" for k, v in sorted(extra.items())])
        for name in ("cluster-resources.yaml", "bgp-configuration.yaml"):
            path = ctx.calico_dir / name
            if ctx.dry_run or path.read_text().strip():
                ctx.calicoctl("apply", "-f", str(path))
        for extra_file in sorted(ctx.calico_dir.glob("extra-*")):
            ctx.calicoctl("apply", "-f", str(extra_file))
        ctx.state.done("calico-resources")

    def workload(self) -> None:
        ctx = self.ctx
        ctx.kubectl("apply", "-f", str(ctx.out_dir / "workload.yaml"))
        ctx.kubectl("-n", "default", "rollout", "status", f"daemonset/{APP}", "--timeout", f"{ctx.deadline:g}s",
                    timeout=ctx.deadline + 60)
        ctx.state.done("workload")

    def wait_sessions(self) -> None:
        ctx = self.ctx
        for node, want in planned_peers(ctx).items():
            def established(node=node, want=want) -> bool:
                try:
                    rows = parse_birdc_protocols(self.access.birdc(node, "show protocols"))
                except LabError:
                    return False
                return {r.peer_address for r in rows if "Established" in r.info.split()} >= want
            if ctx.dry_run:
                ctx.note(f"poll until {node} shows {', '.join(sorted(want)) or 'no peers'} Established")
            ctx.poll(f"BGP peers {', '.join(sorted(want))} of {node} Established", established)
        ctx.state.done("sessions")
