"""Undo the temporary changes an interrupted command left in a lab (its state's journal).

Kinds of entries and how each is undone (each undo can be repeated safely):
- `link-down` {target, iface}: `ip link set IFACE up` inside the target;
- `service-cluster-ips` {original}: the provider's `set_service_cluster_ips(original)`,
  the same call a check makes to restore it;
- `process` {pid, starttime, role}: a traffic sender or tcpdump, stopped by PID only if
  /proc still shows its start time (a recycled PID is never signalled).

Called with the lab's lock held: by every locking command before it starts, and by
`down` (`removing=True`: only processes are stopped, the rest goes with the lab).
"""

from __future__ import annotations

from typing import TextIO

from ...errors import LabError
from . import procs
from .state import LabState

KINDS = ("link-down", "service-cluster-ips", "process")


def _undo(lab, entry: dict, removing: bool) -> str:
    kind = entry.get("kind")
    if kind == "process":
        stopped = procs.stop(int(entry["pid"]), entry.get("starttime"), 2.0)
        return f"stopped {entry.get('role', 'process')} (PID {entry['pid']})" if stopped else ""
    if removing:
        return ""
    if kind == "link-down":
        lab.access().exec(entry["target"], ["ip", "link", "set", entry["iface"], "up"], check=True)
        return f"{entry['target']} {entry['iface']} up again"
    if kind == "service-cluster-ips":
        original = list(entry.get("original", []))
        lab.set_service_cluster_ips(original)
        return f"BGPConfiguration default serviceClusterIPs back to {original or '(none)'}"
    raise LabError(f"lab state journal: unknown entry kind {kind!r} ({entry.get('what')})")


def restore(lab, out: TextIO, removing: bool = False) -> list[str]:
    """Undo every journal entry of `lab` (a NetnsProvider); say so on one line. Returns what was done."""
    state = LabState(lab.state_path)
    entries = state.journal()
    if not entries:
        return []
    done: list[str] = []
    failed: list[str] = []
    for entry in reversed(entries):  # newest first, like any undo
        try:
            text = _undo(lab, entry, removing)
        except LabError as exc:
            failed.append(f"{entry.get('what')}: {exc}")
            continue
        if text:
            done.append(text)
        state.journal_done(entry["id"])
    left_by = sorted({f"`{e.get('command') or 'a command'}` (PID {e.get('pid')})" for e in entries})
    if done:
        out.write(f"restored what an interrupted {', '.join(left_by)} left in lab {lab.lab_name}: {'; '.join(done)}\n")
        out.flush()
    if failed:
        raise LabError(f"lab {lab.lab_name}: could not undo what an interrupted command left: {'; '.join(failed)}; "
                       f"`invoke lab.down --name {lab.lab_name}` removes the lab")
    return done
