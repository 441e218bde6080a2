"""The clab lab's state file: what this lab created, written *before* each creating action.

`down` removes exactly what is recorded (the kind cluster, the containerlab lab, the
bridges it created; never a bridge, cluster or lab that was there before), works after
a failure or kill at any step, and is idempotent. Writes are atomic (temp file +
rename), so a kill mid-write leaves the previous state. A dry run records nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import LabError

STATE_FILE = "clab-state.json"
CREATING, CREATED = "creating", "created"


def empty_state(lab_name: str) -> dict:
    return {"lab": lab_name, "kind": None, "containerlab": None, "bridges": [], "preexisting_bridges": [],
            "done": [], "complete": False}


class ClabState:
    def __init__(self, path: Path, lab_name: str, dry_run: bool = False, how_to_clean: str = ""):
        self.path, self.lab_name, self.dry_run, self.how_to_clean = Path(path), lab_name, dry_run, how_to_clean

    def load(self) -> dict:
        state = empty_state(self.lab_name)
        if self.path.is_file():
            try:
                state.update(json.loads(self.path.read_text()))
            except ValueError as exc:
                raise LabError(f"{self.path} is damaged ({exc}): remove what the lab created by hand "
                               f"({self.how_to_clean})") from exc
        return state

    def save(self, state: dict) -> None:
        if self.dry_run:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1) + "\n")
        tmp.replace(self.path)

    def update(self, **changes) -> None:
        state = self.load()
        state.update(changes)
        self.save(state)

    def done(self, step: str) -> None:
        state = self.load()
        if step not in state["done"]:
            state["done"].append(step)
        self.save(state)

    def add_bridge(self, bridge: str, key: str = "bridges") -> None:
        state = self.load()
        if bridge not in state[key]:
            state[key].append(bridge)
            self.save(state)

    def forget_bridge(self, bridge: str) -> None:
        state = self.load()
        state["bridges"] = [b for b in state["bridges"] if b != bridge]
        self.save(state)

    def is_up(self) -> bool:
        """Whether anything of this lab exists (so status and checks can look at a partial lab too)."""
        state = self.load()
        return bool(state["kind"] or state["containerlab"] or state["bridges"])

    def remove(self) -> None:
        if self.path.is_file() and not self.dry_run:
            self.path.unlink()
