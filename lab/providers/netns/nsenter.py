"""Entering a lab namespace, and the names a namespace, interface or MAC may have.

The lowest part of the netns primitives (netlink.py builds on it, sysctls.py too): no
netlink handle here, only setns(2) on this thread and the /run/netns directory. Split from
netlink.py; that module re-exports these names, so callers keep using `netlink.inside`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
from pathlib import Path
from typing import Iterator

from ...errors import LabError

NETNS_DIR = Path("/var/run/netns")
CLONE_NEWNET = 0x40000000
_MS_BIND, _MS_REC, _MS_SHARED, _MNT_DETACH = 4096, 16384, 1 << 20, 2

_NETNS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_rundir_ready = False


# -- names -------------------------------------------------------------------------------

def check_netns_name(name: str) -> str:
    if not isinstance(name, str) or not _NETNS_NAME.match(name) or name in (".", ".."):
        raise LabError(f"'{name}' is not a valid namespace name (letters, digits, '_', '.', '-')")
    return name


def check_ifname(name: str) -> str:
    if not isinstance(name, str) or not _IFNAME.match(name):
        raise LabError(f"'{name}' is not a valid interface name (letters, digits, '_', '.', '-'; at most 15)")
    return name


def _check_mac(mac: str) -> str:
    if not isinstance(mac, str) or not _MAC.match(mac):
        raise LabError(f"'{mac}' is not a MAC address (aa:bb:cc:dd:ee:ff)")
    return mac.lower()


# -- entering a namespace ----------------------------------------------------------------

def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _ns_inode(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


@contextlib.contextmanager
def inside(ns: str) -> Iterator[None]:
    """Run the block with this thread inside namespace `ns`; the thread always comes back.

    Raises LabError if `ns` does not exist, and refuses to run the block if the thread did
    not actually leave the namespace it was in (so nothing meant for a lab lands elsewhere).
    """
    check_netns_name(ns)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            target = os.open(NETNS_DIR / ns, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise LabError(f"network namespace {ns} does not exist") from None
        try:
            if _ns_inode(target) == _ns_inode(home):
                raise LabError(f"{NETNS_DIR / ns} is this thread's own namespace, not a lab namespace")
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


# -- namespaces --------------------------------------------------------------------------

def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def list_netns(prefix: str = "") -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def _prepare_rundir() -> None:
    """Make /run/netns a shared mount point, as `ip netns add` does (once per process)."""
    global _rundir_ready
    if _rundir_ready:
        return
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    path = str(NETNS_DIR).encode()
    if _libc.mount(b"none", path, b"none", _MS_SHARED | _MS_REC, None) != 0:
        if ctypes.get_errno() != errno.EINVAL:
            raise OSError(ctypes.get_errno(), f"cannot make {NETNS_DIR} a shared mount")
        # Not a mount point yet: bind it onto itself, then share it.
        if (_libc.mount(path, path, b"none", _MS_BIND | _MS_REC, None) != 0
                or _libc.mount(b"none", path, b"none", _MS_SHARED | _MS_REC, None) != 0):
            raise OSError(ctypes.get_errno(), f"cannot make {NETNS_DIR} a shared mount")
    _rundir_ready = True
