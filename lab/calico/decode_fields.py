"""The field reader of the Calico decoder: one mapping of a Calico document, strictly.

`CalicoFields` adds what every Calico kind shares to the located-YAML reader (lab/yamlsrc.py):
sub-mappings that keep the document's line numbers, refusals of what the netns lab cannot
reproduce, version gates (a field newer than the lab's Calico release), and Calico's value
types (AS numbers, selectors, CIDRs, durations, choices, secret references). Split from
decode.py, which holds the per-kind decoders.
"""

from __future__ import annotations

import re
from ipaddress import ip_network
from typing import Any, overload

from ..errors import ResourceError, SelectorError
from ..yamlsrc import Fields
from .selector import parse_selector
from .versions import CalicoVersion

# Metadata calicoctl accepts on every kind (ObjectMeta as the API server fills it).
METADATA = ("name", "labels", "annotations", "resourceVersion", "uid", "creationTimestamp", "generation")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_HEADER = re.compile(r"document \d+( \([^)]*\))?")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


class CalicoFields(Fields):
    """Fields of one mapping inside a Calico document, with the lab's refusals and Calico's value types."""

    def __init__(self, data: Any, where: str, file: str, line: int | None, kind: str, version: CalicoVersion | None):
        super().__init__(data, where, file, ResourceError, line)
        self.kind, self.version = kind, version
        self.fallback_line = line  # a plain dict (a merge-patched document) has no lines of its own

    def line(self, key: str | None = None) -> int | None:
        return super().line(key) or self.fallback_line

    def path(self, key: str) -> str:
        # "document 2 (BGPPeer/x) spec" + key -> "...spec.key"; the document header itself + key -> "... key".
        if _HEADER.fullmatch(self.where):
            return f"{self.where} {key}"
        return super().path(key)

    def sub(self, key: str, kind=dict) -> "CalicoFields | None":
        value = self.opt(key, kind)
        if value is None:
            return None
        return CalicoFields(value, self.path(key), self.file, self.line(key), self.kind, self.version)

    def refuse(self, key: str, why: str, allowed: tuple = ()) -> None:
        """`key` may be absent (or one of `allowed`); anything else is refused by name."""
        value = self.opt(key)
        if value is not None and value not in allowed and value != [] and value != {}:
            self.fail(key, f"field {key} is not supported by the netns lab: {why}")

    def gate(self, key: str, path: str | None = None) -> None:
        """Refuse a field the lab's Calico release does not have yet (calicoctl of that release would)."""
        if key in self.data and self.version is not None:
            since = self.version.knows(self.kind, path or f"spec.{key}")
            if since:
                self.fail(key, f"unknown field in Calico {self.version} (added in v{since[0]}.{since[1]}; "
                               "set calico.version to a newer release)")

    def asn(self, key: str) -> int | None:
        value = self.opt(key, (int, str, float))  # 65001.5 (AS-dot) reads as a YAML float
        if value is None:
            return None
        text = str(value)
        if "." in text:  # AS-dot notation, as numorstring.ASNumber accepts it
            hi, _, lo = text.partition(".")
            number = int(hi) * 65536 + int(lo) if hi.isdigit() and lo.isdigit() else -1
        else:
            number = int(text) if text.isdigit() else -1
        if number < 0:
            self.fail(key, f"'{value}' is not an AS number")
        if not 1 <= number <= 4294967295:
            self.fail(key, f"AS number {number} is out of range (1..4294967295)")
        return number

    def selector(self, key: str) -> str | None:
        value = self.opt(key, str)
        if value is not None:
            try:
                parse_selector(value)
            except SelectorError as exc:
                self.fail(key, str(exc).replace("\n", " "))
        return value

    def cidr(self, key: str, value: Any = None, v4_only: bool = True) -> str:
        value = self.data.get(key) if value is None else value
        try:
            net = ip_network(str(value), strict=False)
        except ValueError:
            self.fail(key, f"'{value}' is not a valid CIDR")
        if v4_only and net.version != 4:
            self.fail(key, f"IPv6 ({value}) is not supported by the netns lab yet (IPv4 only)")
        return str(net)

    def duration(self, key: str) -> int | None:
        """metav1.Duration ("90s", "2m", "1h30m") -> whole seconds, rounded as Calico rounds them."""
        value = self.opt(key, str)
        if value is None:
            return None
        if not re.fullmatch(f"(?:{_DURATION.pattern})+", value):
            self.fail(key, f"'{value}' is not a duration like 30s, 2m or 1h30m")
        return round(sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(value)))

    @overload
    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str: ...

    @overload
    def choice(self, key: str, choices: tuple[str, ...], default: None = None) -> str | None: ...

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.opt(key, str, default)
        if value is not None and value not in choices:
            self.fail(key, f"'{value}' is not one of {', '.join(choices)}")
        return value

    def secret_ref(self, key: str) -> tuple[str, str] | None:
        password = self.sub(key)
        if password is None:
            return None
        ref = password.sub("secretKeyRef")
        password.done()
        if ref is None:
            password.fail("secretKeyRef", "required field is missing")
        name, secret_key = ref.req("name", str), ref.req("key", str)
        ref.opt("optional", bool)
        ref.done()
        return name, secret_key

