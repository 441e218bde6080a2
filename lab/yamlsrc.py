"""YAML loading that remembers where every value came from.

Error messages must name the file and the line of the offending field, so the
loader keeps PyYAML's node marks: mappings become `LocMap` (a dict that knows
its own line and the line of each key) and sequences become `LocList`.
Scalars are plain Python values resolved with the safe constructor.

Hostile or unusual input ends in one `file:line` error, never a traceback or an
unbounded run: tags (`!Ref`, `!!python/name:`) are refused, nesting is limited
to MAX_DEPTH levels (checked on the event stream before PyYAML's recursive
composer runs), aliases may expand to MAX_VALUES values in all (a 271-byte
"billion laughs" file otherwise takes 3 GB), bytes must be UTF-8. Merge keys
(`<<: *defaults`) are supported: keys written in the mapping win.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, NoReturn, Protocol

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

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100  # nested mappings/lists; PyYAML's composer recurses once per level
MAX_VALUES = 200_000  # values after alias expansion: an "alias bomb" stops here, in bounded time
MERGE_TAG = "tag:yaml.org,2002:merge"


def _decode(raw: bytes, file: str, error) -> str:
    if len(raw) > MAX_BYTES:
        raise error(file, "", f"file is too large ({len(raw)} bytes; at most {MAX_BYTES})")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise error(file, "", f"not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}): "
                              "save the file as UTF-8", line) from None


def _yaml_error(exc: Exception, text: str, file: str, error) -> Exception:
    """Any PyYAML error as `error` with the line it names."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[:exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        return error(file, "", f"YAML syntax error: character U+{char:04X} is not allowed in YAML", line)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    return error(file, "", f"YAML syntax error: {problem}" + (f" ({context})" if context else ""), line)


# libyaml's parser (PyYAML's C binding) reads a 1,000-node lab's rendered resources ~10x faster
# than PyYAML's pure-Python one. Used only for plain printable ASCII text, and only while it
# succeeds: any YAML error is produced again by the pure-Python parser, so messages and what is
# accepted stay exactly PyYAML's.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)
_PLAIN_ASCII = re.compile(r"[\t\n\x20-\x7e]*")


def _loaders(text: str) -> tuple:
    return (_FAST_LOADER, yaml.SafeLoader) if _FAST_LOADER and _PLAIN_ASCII.fullmatch(text) else (yaml.SafeLoader,)


def _precheck(text: str, file: str, error, loader=yaml.SafeLoader) -> None:
    """One pass over PyYAML's events (an iterative parser, no recursion) before composing:
    refuses excessive nesting and tags with the line, in time linear in the text."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        tag = getattr(event, "tag", None)
        if tag is not None and isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            raise error(file, "", f"YAML tags such as '{tag}' are not supported: write the plain value",
                        _line(event.start_mark))
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise error(file, "", f"nested more than {MAX_DEPTH} levels deep", _line(event.start_mark))
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def _empty(node: yaml.Node | None) -> bool:
    # An empty document (a trailing `---`) composes to a null scalar with no text.
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null") and node.value == "")


def _compose_all(text: str, file: str, error) -> list[yaml.Node]:
    loaders = _loaders(text)
    for loader in loaders:
        try:
            _precheck(text, file, error, loader)
            return [node for node in yaml.compose_all(text, Loader=loader) if not _empty(node)]
        except yaml.YAMLError as exc:
            if loader is not yaml.SafeLoader:
                continue  # the pure-Python parser gives the error (or accepts the text)
            raise _yaml_error(exc, text, file, error) from None
        except RecursionError:  # the precheck bounds nesting; this is the last line of defence
            raise error(file, "", f"nested more than {MAX_DEPTH} levels deep") from None
    raise AssertionError("unreachable: the pure-Python loader either returns or raises")


class _Converter:
    """Composed YAML nodes to LocMap/LocList/scalars, counting every value it produces, so
    aliases that expand exponentially or refer to themselves end in an error, not in memory."""

    def __init__(self, file: str, error):
        self.file, self.error, self.values = file, error, 0

    def _line(self, node: yaml.Node) -> int:
        return node.start_mark.line + 1

    def convert(self, node: yaml.Node, depth: int = 0) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise self.error(self.file, "", f"the document expands to more than {MAX_VALUES} values "
                             "(anchors and aliases, *name, repeated inside each other?)", self._line(node))
        if depth > MAX_DEPTH:
            raise self.error(self.file, "", f"nested more than {MAX_DEPTH} levels deep "
                             "(an alias inside the value it names?)", self._line(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            seq = LocList(self.convert(item, depth + 1) for item in node.value)
            seq.line = self._line(node)
            seq.item_lines = [self._line(item) for item in node.value]
            return seq
        try:
            return _constructor.construct_object(node)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise self.error(self.file, "", f"cannot read this value: {problem}", self._line(node)) from None

    def _mapping(self, node: yaml.MappingNode, depth: int) -> LocMap:
        out = LocMap()
        out.line = self._line(node)
        out.key_lines = {}
        merged: list[tuple[str, Any, int]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(self.file, "", "mapping keys must be plain strings", self._line(key_node))
            if key_node.tag == MERGE_TAG:
                merged += self._merge_sources(value_node, depth)
                continue
            key = str(self.convert(key_node, depth + 1))
            if key in out:
                raise self.error(self.file, key, "duplicate key", self._line(key_node))
            out[key] = self.convert(value_node, depth + 1)
            out.key_lines[key] = self._line(key_node)
        # YAML merge keys (`<<: *base`): keys written here win, then the first source that has the key.
        for key, value, line in merged:
            if key not in out:
                out[key] = value
                out.key_lines[key] = line
        return out

    def _merge_sources(self, value_node: yaml.Node, depth: int) -> list[tuple[str, Any, int]]:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        found = []
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise self.error(self.file, "<<", "a merge key takes a mapping or a list of mappings "
                                 "(like `<<: *defaults`)", self._line(source))
            converted = self._mapping(source, depth + 1)
            found += [(k, v, converted.key_line(k)) for k, v in converted.items()]
        return found


def _text(source: str | bytes, file: str, error) -> str:
    return _decode(source, file, error) if isinstance(source, (bytes, bytearray)) else source


def load_located(path: str | Path, error: type[InputError] = InputError) -> Any:
    """Parse one YAML document with line information; every problem becomes `error` with its line."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise error(file, "", f"cannot read file: {exc.strerror}") from None
    nodes = _compose_all(_decode(raw, file, error), file, error)
    if not nodes:
        raise error(file, "", "file is empty")
    if len(nodes) > 1:
        raise error(file, "", "expected one YAML document, found more ('---' starts another)", nodes[1].start_mark.line + 1)
    return _Converter(file, error).convert(nodes[0])


def load_located_all(text: str | bytes, source: str, error: type[InputError] = InputError) -> list[LocMap]:
    """Every document of a multi-document YAML text (e.g. Calico resources), one LocMap each;
    empty documents are skipped; a document that is not a mapping is an error with its line."""
    nodes = _compose_all(_text(text, source, error), source, error)
    converter = _Converter(source, error)  # one budget for the whole text
    docs = []
    for index, node in enumerate(nodes, 1):
        doc = converter.convert(node)
        if not isinstance(doc, LocMap):
            raise error(source, "", f"document {index}: expected a mapping, got {_kind(doc)}", node.start_mark.line + 1)
        docs.append(doc)
    return docs


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

    def fail(self, key: str | None, problem: str) -> NoReturn:
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
    if int in kinds and float not in kinds:
        names[int] = "a whole number"
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


class _Mark(Protocol):  # yaml.Mark, pure-Python or libyaml's
    line: int


def _line(mark: _Mark | None) -> int | None:
    """The 1-based line of a PyYAML mark (events from the parser always carry one)."""
    return None if mark is None else mark.line + 1
