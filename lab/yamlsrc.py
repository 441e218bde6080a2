"""YAML loading that remembers where every value came from.

Error messages must name the file and the line of the offending field, so the
loader keeps PyYAML's node marks: mappings become `LocMap` (a dict that knows
its own line and the line of each key) and sequences become `LocList`.
Scalars are plain Python values resolved with the safe constructor.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError


class LocMap(dict):
    """A mapping from a YAML file; `line` is where it starts, `key_line(k)` where key k is."""

    line: int = 0
    key_lines: dict

    def key_line(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LocList(list):
    """A sequence from a YAML file; `item_line(i)` is where item i starts."""

    line: int = 0
    item_lines: list

    def item_line(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


_constructor = yaml.constructor.SafeConstructor()


def _convert(node: yaml.Node, file: str, error: type[InputError] = InputError) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = LocMap()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise error(file, "", "mapping keys must be plain strings", key_node.start_mark.line + 1)
            key = str(_constructor.construct_object(key_node))
            if key in out:
                raise error(file, key, "duplicate key", key_node.start_mark.line + 1)
            out[key] = _convert(value_node, file, error)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = LocList(_convert(item, file, error) for item in node.value)
        seq.line = node.start_mark.line + 1
        seq.item_lines = [item.start_mark.line + 1 for item in node.value]
        return seq
    return _constructor.construct_object(node)


def load_located(path: str | Path, error: type[InputError] = InputError) -> Any:
    """Parse one YAML document with line information; syntax errors become `error`."""
    file = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise error(file, "", f"cannot read file: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(file, "", f"YAML syntax error: {problem}", line) from None
    if node is None:
        raise error(file, "", "file is empty")
    return _convert(node, file, error)


class Fields:
    """Reads the fields of one mapping and reports every problem with file, line and field path.

    Call `done()` after reading: any key not read is an unknown field (usually a typo),
    reported with the closest known field name.
    """

    def __init__(self, data: Any, where: str, file: str, error=InputError, line: int | None = None):
        self.file = file
        self.where = where
        self.error = error
        if not isinstance(data, dict):
            raise error(file, where, f"expected a mapping, got {_kind(data)}", line or getattr(data, "line", None))
        self.data = data
        self.read: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def line(self, key: str | None = None) -> int | None:
        if key is not None and isinstance(self.data, LocMap) and key in self.data:
            return self.data.key_line(key)
        return getattr(self.data, "line", None)

    def fail(self, key: str | None, problem: str):
        raise self.error(self.file, self.path(key) if key else self.where, problem, self.line(key))

    def has(self, key: str) -> bool:
        return key in self.data

    def req(self, key: str, kind: type | tuple = object) -> Any:
        self.read.add(key)
        if key not in self.data or self.data[key] is None:
            near = difflib.get_close_matches(key, [k for k in self.data if k != key], n=1)
            hint = f" (found '{near[0]}': a typo?)" if near else ""
            raise self.error(self.file, self.path(key), f"required field is missing{hint}",
                             self.line(near[0]) if near else self.line())
        return self._typed(key, kind)

    def opt(self, key: str, kind: type | tuple = object, default: Any = None) -> Any:
        self.read.add(key)
        if key not in self.data or self.data[key] is None:
            return default
        return self._typed(key, kind)

    def _typed(self, key: str, kind) -> Any:
        value = self.data[key]
        if kind is object:
            return value
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # YAML booleans are ints in Python; never accept one where a number is wanted.
        if isinstance(value, bool) and bool not in kinds:
            self.fail(key, f"expected {_names(kinds)}, got a boolean")
        if not isinstance(value, kinds):
            self.fail(key, f"expected {_names(kinds)}, got {_kind(value)}")
        return value

    def done(self) -> None:
        for key in self.data:
            if key not in self.read:
                hint = difflib.get_close_matches(key, sorted(self.read), n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else f"; known fields: {', '.join(sorted(self.read))}"
                self.fail(key, f"unknown field{suggestion}")


def _names(kinds: tuple) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "true/false", dict: "a mapping", list: "a list"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"'{value}'"


def load_located_all(text: str, source: str, error: type[InputError] = InputError) -> list:
    """Every non-empty document of a YAML stream, with line information (LocMap/LocList); errors become `error`."""
    try:
        nodes = [n for n in yaml.compose_all(text, Loader=yaml.SafeLoader) if n is not None]
        return [_convert(node, source, error) for node in nodes]
    except yaml.YAMLError as exc:  # syntax, or a value the safe constructor refuses (a tag such as !Ref)
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(source, "", f"YAML syntax error: {problem}", mark.line + 1 if mark else None) from None
