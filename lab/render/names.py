"""Names the renderers give to things the topology file does not name."""

from __future__ import annotations

import hashlib

from ..names import IFNAMSIZ


def bridge_port(*parts: str) -> str:
    """A bridge port (veth end) name: readable when it fits in IFNAMSIZ, else a stable hash."""
    name = "-".join(parts)
    if len(name) <= IFNAMSIZ:
        return name
    return "p" + hashlib.sha1(name.encode()).hexdigest()[:10]


def server_name(node: str) -> str:
    return f"server-{node}"
