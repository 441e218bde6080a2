"""Host seams below the providers: the docker engine, read and driven through the docker SDK.

Lower layer on purpose: `lab.doctor` probes the engine and the clab provider
drives it, and neither imports the other (the doctor never imports a provider).
The SDK is imported only when a client is made, so this module imports on a
host without Docker (or without the SDK).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Sequence

from .errors import LabError
from .exec import Result

DEFAULT_DOCKER_SOCKET = "unix:///var/run/docker.sock"
# The management network containerlab attaches its nodes to, unless the topology names another.
CLAB_MGMT_NETWORK = "clab"


def docker_endpoint() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_SOCKET


# -- docker SDK --

def docker_from_env() -> Any:
    import docker

    return docker.from_env(timeout=30)


def _is_not_found(exc: BaseException) -> bool:
    return type(exc).__name__ in ("NotFound", "ImageNotFound") or getattr(exc, "status_code", None) == 404


def as_text(data) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, (bytes, bytearray)) else str(data)


class Docker:
    """The docker SDK behind four verbs. The client comes from `factory` on first use."""

    dry_run = False

    def __init__(self, factory: Callable[[], Any] = docker_from_env):
        self._factory = factory
        self._client = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._factory()
                except Exception as exc:  # the SDK raises its own DockerException, or ImportError
                    raise LabError(f"docker engine not reachable at {docker_endpoint()}: {exc}") from exc
            return self._client

    def _container(self, name: str) -> Any:
        try:
            return self.client().containers.get(name)
        except LabError:
            raise
        except Exception as exc:
            if _is_not_found(exc):
                raise LabError(f"container {name} not found (is the lab up?)") from exc
            raise LabError(f"docker: cannot reach container {name}: {exc}") from exc

    def exec(self, container: str, argv: Sequence[str], *, timeout: float = 10.0) -> Result:
        """`exec_run` in the container; past `timeout` the answer is rc 124 (the SDK has no time-out)."""
        argv = tuple(str(a) for a in argv)
        target = self._container(container)
        box: dict = {}

        def work():
            try:
                box["result"] = target.exec_run(list(argv), demux=True)
            except Exception as exc:
                box["error"] = exc

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            return Result(argv, 124, "", f"docker exec in {container} timed out after {timeout}s")
        if "error" in box:
            raise LabError(f"docker exec in {container} failed: {box['error']}") from box["error"]
        code, output = box["result"]
        out, err = output if isinstance(output, tuple) else (output, b"")
        return Result(argv, int(code if code is not None else 0), as_text(out), as_text(err))

    def address(self, container: str, network: str = CLAB_MGMT_NETWORK) -> str:
        """The container's IPv4 address on the management network (else on its first network)."""
        networks = (self._container(container).attrs.get("NetworkSettings") or {}).get("Networks") or {}
        ordered = [networks[network]] if network in networks else []
        ordered += [v for k, v in sorted(networks.items()) if k != network]
        for settings in ordered:
            if (settings or {}).get("IPAddress"):
                return settings["IPAddress"]
        raise LabError(f"container {container} has no IPv4 address on any docker network")

    def image_present(self, image: str) -> bool:
        try:
            self.client().images.get(image)
            return True
        except LabError:
            raise
        except Exception as exc:
            if _is_not_found(exc):
                return False
            raise LabError(f"docker: cannot look up image {image}: {exc}") from exc

    def ping(self) -> str | None:
        """'Docker <version>' when the engine answers, else None."""
        try:
            version = self.client().version()
        except Exception:
            return None
        return f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})"
