"""Calico's label selector language: parse once, evaluate against a node's labels.

Grammar (precedence low to high): `||`, `&&`, `!`, then terms:
`all()`, `has(k)`, `k == 'v'`, `k != 'v'`, `k in {'a','b'}`, `k not in {...}`,
`k contains 'x'`, `k starts with 'x'`, `k ends with 'x'`, `( expr )`.
Strings take single or double quotes; an empty selector means all().
`str(selector)` prints a canonical form that parses back to an equal selector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, NoReturn

from ..errors import SelectorError

_KEY = re.compile(r"[A-Za-z0-9_./-]+")
_SPACE = re.compile(r"\s*")


class Selector:
    def matches(self, labels: Mapping[str, str]) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


def _quote(value: str) -> str:
    return f"'{value}'" if "'" not in value else f'"{value}"'


@dataclass(frozen=True)
class All(Selector):
    def matches(self, labels):
        return True

    def __str__(self):
        return "all()"


@dataclass(frozen=True)
class Has(Selector):
    key: str

    def matches(self, labels):
        return self.key in labels

    def __str__(self):
        return f"has({self.key})"


@dataclass(frozen=True)
class Compare(Selector):
    key: str
    op: str  # == != contains starts with, ends with
    value: str

    def matches(self, labels):
        present = self.key in labels
        actual = labels.get(self.key, "")
        if self.op == "==":
            return present and actual == self.value
        if self.op == "!=":
            # Calico: a missing label is "not equal".
            return not present or actual != self.value
        if self.op == "contains":
            return present and self.value in actual
        if self.op == "starts with":
            return present and actual.startswith(self.value)
        if self.op == "ends with":
            return present and actual.endswith(self.value)
        raise AssertionError(self.op)

    def __str__(self):
        return f"{self.key} {self.op} {_quote(self.value)}"


@dataclass(frozen=True)
class In(Selector):
    key: str
    values: tuple[str, ...]
    negated: bool = False

    def matches(self, labels):
        inside = self.key in labels and labels[self.key] in self.values
        return not inside if self.negated else inside

    def __str__(self):
        op = "not in" if self.negated else "in"
        return f"{self.key} {op} {{{', '.join(_quote(v) for v in self.values)}}}"


@dataclass(frozen=True)
class Not(Selector):
    operand: Selector

    def matches(self, labels):
        return not self.operand.matches(labels)

    def __str__(self):
        inner = str(self.operand)
        return f"!{inner}" if isinstance(self.operand, (Has, All, Not)) else f"!({inner})"


@dataclass(frozen=True)
class And(Selector):
    operands: tuple[Selector, ...]

    def matches(self, labels):
        return all(o.matches(labels) for o in self.operands)

    def __str__(self):
        return " && ".join(f"({o})" if isinstance(o, Or) else str(o) for o in self.operands)


@dataclass(frozen=True)
class Or(Selector):
    operands: tuple[Selector, ...]

    def matches(self, labels):
        return any(o.matches(labels) for o in self.operands)

    def __str__(self):
        return " || ".join(str(o) for o in self.operands)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def fail(self, problem: str) -> NoReturn:
        raise SelectorError(self.text, self.pos + 1, problem)

    def skip(self):
        space = _SPACE.match(self.text, self.pos)  # matches everywhere (possibly nothing)
        if space:
            self.pos = space.end()

    def peek(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str):
        if not self.take(token):
            self.fail(f"expected '{token}'")

    def word(self, word: str) -> bool:
        """A keyword, only when it is a whole word."""
        self.skip()
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and (end == len(self.text) or not self.text[end].isalnum()):
            self.pos = end
            return True
        return False

    def parse(self) -> Selector:
        self.skip()
        if self.pos == len(self.text):
            return All()
        result = self.parse_or()
        self.skip()
        if self.pos != len(self.text):
            self.fail(f"unexpected '{self.text[self.pos:]}'")
        return result

    def parse_or(self) -> Selector:
        items = [self.parse_and()]
        while self.take("||"):
            items.append(self.parse_and())
        return _flat(Or, items)

    def parse_and(self) -> Selector:
        items = [self.parse_unary()]
        while self.take("&&"):
            items.append(self.parse_unary())
        return _flat(And, items)

    def parse_unary(self) -> Selector:
        if self.peek("!") and not self.peek("!="):
            self.pos += 1
            return Not(self.parse_unary())
        if self.take("("):
            inner = self.parse_or()
            self.expect(")")
            return inner
        if self.word("all"):
            self.expect("(")
            self.expect(")")
            return All()
        if self.word("has"):
            self.expect("(")
            key = self.key()
            self.expect(")")
            return Has(key)
        key = self.key()
        if self.take("=="):
            return Compare(key, "==", self.string())
        if self.take("!="):
            return Compare(key, "!=", self.string())
        if self.word("contains"):
            return Compare(key, "contains", self.string())
        if self.word("starts"):
            if not self.word("with"):
                self.fail("expected 'with' after 'starts'")
            return Compare(key, "starts with", self.string())
        if self.word("ends"):
            if not self.word("with"):
                self.fail("expected 'with' after 'ends'")
            return Compare(key, "ends with", self.string())
        if self.word("not"):
            if not self.word("in"):
                self.fail("expected 'in' after 'not'")
            return In(key, self.string_set(), negated=True)
        if self.word("in"):
            return In(key, self.string_set())
        self.fail(f"expected an operator after '{key}' (==, !=, in, not in, contains, starts with, ends with)")

    def key(self) -> str:
        self.skip()
        match = _KEY.match(self.text, self.pos)
        if not match:
            self.fail("expected a label name")
        self.pos = match.end()
        return match.group(0)

    def string(self) -> str:
        self.skip()
        if self.pos >= len(self.text) or self.text[self.pos] not in "'\"":
            self.fail("expected a quoted string")
        quote = self.text[self.pos]
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            self.fail("unterminated string")
        value = self.text[self.pos + 1:end]
        self.pos = end + 1
        return value

    def string_set(self) -> tuple[str, ...]:
        self.expect("{")
        values = []
        if not self.take("}"):
            values.append(self.string())
            while self.take(","):
                values.append(self.string())
            self.expect("}")
        return tuple(values)


def _flat(kind, items: list[Selector]) -> Selector:
    """`a && (b && c)` is `a && b && c`: one canonical shape, so printing round-trips."""
    out: list[Selector] = []
    for item in items:
        out.extend(item.operands if isinstance(item, kind) else (item,))
    return out[0] if len(out) == 1 else kind(tuple(out))


def parse_selector(text: str | None) -> Selector:
    return _Parser(text or "").parse()
