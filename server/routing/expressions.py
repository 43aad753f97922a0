"""TaskRouter-style expressions over attributes, compiled once into a predicate.

Grammar (keywords are case-insensitive)::

    expr       := or
    or         := and ("OR" and)*
    and        := not ("AND" not)*
    not        := "NOT" not | primary
    primary    := "(" expr ")" | comparison
    comparison := operand [op operand]
    op         := "==" | "!=" | "<" | ">" | "<=" | ">=" | "IN" | "NOT IN" | "HAS" | "CONTAINS"
    operand    := path | string | number | "true" | "false" | "[" [operand ("," operand)*] "]"
    path       := name ("." name)*

A path that is absent makes every comparison false (``!=`` too), as TaskRouter does: write
``NOT (language == "fr")`` to include agents without a language. A bare operand is a truth test.
In target expressions ``worker.x`` is the agent's ``x`` and ``task.x`` the task's ``x``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Attributes = Mapping[str, Any]
Predicate = Callable[[Attributes, Attributes], bool]
Getter = Callable[[Attributes, Attributes], Any]

_MISSING: Any = object()


class ExpressionError(ValueError):
    """A bad expression; ``position`` is the 0-based character offset of the problem."""

    def __init__(self, message: str, source: str, position: int) -> None:
        super().__init__(f"{message} at position {position} in expression {source!r}")
        self.source = source
        self.position = position


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # name, string, number, op, punct, keyword, end
    value: Any
    position: int


_KEYWORDS = {"AND", "OR", "NOT", "IN", "HAS", "CONTAINS", "TRUE", "FALSE"}
_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>==|!=|<=|>=|<|>|&&|\|\|)
      | (?P<punct>[()\[\],])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            if source[position] in "\"'":
                raise ExpressionError("unterminated string", source, position)
            raise ExpressionError(f"unexpected character {source[position]!r}", source, position)
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "number":
            tokens.append(Token(kind, float(text) if "." in text else int(text), position))
        elif kind == "string":
            tokens.append(Token(kind, _ESCAPE.sub(r"\1", text[1:-1]), position))
        elif kind == "op":
            # && and || are accepted as spellings of AND and OR.
            alias = {"&&": "AND", "||": "OR"}.get(text)
            tokens.append(
                Token("keyword", alias, position) if alias else Token(kind, text, position)
            )
        elif kind == "name" and text.upper() in _KEYWORDS:
            tokens.append(Token("keyword", text.upper(), position))
        elif kind != "space":
            tokens.append(Token(kind, text, position))
        position = match.end()
    tokens.append(Token("end", None, len(source)))
    return tokens


def _resolve(path: tuple[str, ...], attributes: Attributes, task: Attributes) -> Any:
    root: Any = attributes
    if path[0] == "task" and "task" not in attributes:
        root, path = task, path[1:]
    elif path[0] == "worker" and "worker" not in attributes:
        path = path[1:]
    for part in path:
        if isinstance(root, Mapping) and part in root:
            root = root[part]
        else:
            return _MISSING
    return root


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is _MISSING or right is _MISSING:
        return False
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op in ("<", ">", "<=", ">="):
        if not (
            (_is_number(left) and _is_number(right))
            or (isinstance(left, str) and isinstance(right, str))
        ):
            return False
        return {
            "<": left < right,
            ">": left > right,
            "<=": left <= right,
            ">=": left >= right,
        }[op]
    if op in ("IN", "NOT IN"):
        if not isinstance(right, list | tuple):
            return False
        # A list on the left is IN when any of its items is (["en","fr"] IN ["fr"]).
        items = left if isinstance(left, list | tuple) else [left]
        found = any(item in right for item in items)
        return found if op == "IN" else not found
    if op == "HAS":
        return isinstance(left, list | tuple | Mapping) and right in left
    if op == "CONTAINS":
        if isinstance(left, str):
            return isinstance(right, str) and right in left
        return isinstance(left, list | tuple | Mapping) and right in left
    raise AssertionError(op)


def _truthy(value: Any) -> bool:
    return value is not _MISSING and bool(value)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, message: str, token: Token | None = None) -> ExpressionError:
        token = token or self.current
        found = "end of expression" if token.kind == "end" else repr(str(token.value))
        return ExpressionError(f"{message}, found {found}", self.source, token.position)

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.tokens[min(self.index + offset, len(self.tokens) - 1)]
        return token.kind == "keyword" and token.value == word

    def parse(self) -> Predicate:
        if self.current.kind == "end":
            raise self.error("empty expression")
        predicate = self.parse_or()
        if self.current.kind != "end":
            raise self.error("expected AND, OR or the end of the expression")
        return predicate

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.is_keyword("OR"):
            self.advance()
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda a, t: any(part(a, t) for part in parts)

    def parse_and(self) -> Predicate:
        parts = [self.parse_not()]
        while self.is_keyword("AND"):
            self.advance()
            parts.append(self.parse_not())
        if len(parts) == 1:
            return parts[0]
        return lambda a, t: all(part(a, t) for part in parts)

    def parse_not(self) -> Predicate:
        if self.is_keyword("NOT"):
            self.advance()
            inner = self.parse_not()
            return lambda a, t: not inner(a, t)
        if self.current.kind == "punct" and self.current.value == "(":
            self.advance()
            inner = self.parse_or()
            if not (self.current.kind == "punct" and self.current.value == ")"):
                raise self.error("expected ')'")
            self.advance()
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        left = self.parse_operand()
        op = self.parse_operator()
        if op is None:
            return lambda a, t: _truthy(left(a, t))
        right = self.parse_operand()
        return lambda a, t: _compare(op, left(a, t), right(a, t))

    def parse_operator(self) -> str | None:
        token = self.current
        if token.kind == "op":
            self.advance()
            return str(token.value)
        if self.is_keyword("NOT") and self.is_keyword("IN", 1):
            self.index += 2
            return "NOT IN"
        if token.kind == "keyword" and token.value in ("IN", "HAS", "CONTAINS"):
            self.advance()
            return str(token.value)
        return None

    def parse_operand(self) -> Getter:
        token = self.current
        if token.kind == "name":
            self.advance()
            path = tuple(str(token.value).split("."))
            return lambda a, t: _resolve(path, a, t)
        if token.kind == "punct" and token.value == "[":
            return self.parse_list()
        value = self.parse_literal()
        return lambda a, t: value

    def parse_literal(self) -> Any:
        token = self.current
        if token.kind in ("string", "number"):
            self.advance()
            return token.value
        if token.kind == "keyword" and token.value in ("TRUE", "FALSE"):
            self.advance()
            return token.value == "TRUE"
        raise self.error("expected an attribute, a string, a number or a list")

    def parse_list(self) -> Getter:
        self.advance()  # [
        items: list[Any] = []
        while not (self.current.kind == "punct" and self.current.value == "]"):
            if items:
                if not (self.current.kind == "punct" and self.current.value == ","):
                    raise self.error("expected ',' or ']'")
                self.advance()
            items.append(self.parse_literal())
        self.advance()  # ]
        return lambda a, t: items


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled expression; ``matches(attributes, task)`` evaluates it."""

    source: str
    predicate: Predicate

    def matches(self, attributes: Attributes, task: Attributes | None = None) -> bool:
        return self.predicate(attributes, task or {})


def compile_expression(source: str) -> Expression:
    """Compile ``source``; raises ``ExpressionError`` naming the position of the problem."""
    return Expression(source, _Parser(source).parse())


MATCH_ALL = compile_expression("1==1")
