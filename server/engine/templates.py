"""Liquid templates as Studio uses them, compiled once per flow version.

Studio renders every string property of a widget with Liquid before the widget runs. A flow's
properties are walked once at compile time: strings holding Liquid markup become compiled
templates, everything else stays a constant, so rendering at run time parses nothing.

Studio's dialect differs from plain python-liquid in ways that matter here:

- a broken expression renders as empty and never fails the widget, so the environment runs in
  lax mode (one bad tag or filter blanks itself, not the whole message) and a template that does
  not even tokenize renders as empty (``syntax_error`` lets validation report it before publish);
- every ``for`` loop stops after ``MAX_LOOP_ITERATIONS`` items, silently;
- ``to_json`` is a filter;
- any property name works after a dot: python-liquid 2 reads words such as ``limit``, ``offset``,
  ``in`` or ``contains`` as keywords even there (``flow.variables.limit`` does not parse), so
  those segments are rewritten to bracket notation (``flow.variables["limit"]``) before parsing.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any

from liquid import Environment, Mode
from liquid.builtin.expressions import LoopExpression
from liquid.builtin.tags.for_tag import ForNode, ForTag
from liquid.exceptions import LiquidError

if TYPE_CHECKING:
    from liquid.context import RenderContext
    from liquid.stream import TokenStream
    from liquid.template import BoundTemplate

MAX_LOOP_ITERATIONS = 15  # Studio renders at most 15 iterations of each for loop
MARKUP = ("{{", "{%")

# Words python-liquid 2's expression lexer always reads as keywords (its ``_tokenize._keywords``).
LIQUID_KEYWORDS = frozenset(
    {
        *("true", "false", "nil", "null", "empty", "blank"),
        *("and", "or", "not", "contains", "in", "if", "else", "for", "as", "with", "required"),
        *("offset", "limit", "reversed", "cols", "continue"),
    }
)
_MARKUP_SPAN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
# A quoted string (left alone) or ``.keyword`` right after a path segment, not followed by more
# identifier characters (``.limits`` and ``.in-stock`` are ordinary names already).
_KEYWORD_SEGMENT = re.compile(
    r"(\"[^\"]*\"|'[^']*')|(?<=[\w\]?])\.(" + "|".join(sorted(LIQUID_KEYWORDS)) + r")(?![\w?-])"
)


def _bracket_keyword_segments(source: str) -> str:
    def segment(match: re.Match[str]) -> str:
        return match.group(1) or f'["{match.group(2)}"]'

    return _MARKUP_SPAN.sub(lambda span: _KEYWORD_SEGMENT.sub(segment, span.group()), source)


class CappedLoopExpression(LoopExpression):
    """A ``for`` loop expression that yields at most ``MAX_LOOP_ITERATIONS`` items."""

    __slots__ = ()

    @classmethod
    def capping(cls, expression: LoopExpression) -> CappedLoopExpression:
        return cls(
            expression.token,
            expression.identifier,
            expression.iterable,
            limit=expression.limit,
            offset=expression.offset,
            reversed_=expression.reversed,
            cols=expression.cols,
        )

    def evaluate(self, context: RenderContext) -> tuple[Iterator[object], int]:
        items, length = super().evaluate(context)
        return islice(items, MAX_LOOP_ITERATIONS), min(length, MAX_LOOP_ITERATIONS)

    async def evaluate_async(self, context: RenderContext) -> tuple[Iterator[object], int]:
        items, length = await super().evaluate_async(context)
        return islice(items, MAX_LOOP_ITERATIONS), min(length, MAX_LOOP_ITERATIONS)


class CappedForTag(ForTag):
    """The built-in ``for`` tag with Studio's per-loop cap (``forloop.length`` is capped too)."""

    def parse(self, stream: TokenStream) -> ForNode:
        node = super().parse(stream)
        assert isinstance(node, ForNode)  # ForTag.parse always builds a ForNode
        node.expression = CappedLoopExpression.capping(node.expression)
        return node


def _to_json(value: object) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def _returning_input_on_bad_dates(date_filter: Callable[..., Any]) -> Callable[..., Any]:
    """python-liquid's ``date`` lets OSError/OverflowError out for out-of-range timestamps (a
    customer typing ``99999999999999999``); return the input unchanged, as Liquid does for any
    value it cannot read as a date."""

    @functools.wraps(date_filter)  # keeps the with_environment marker python-liquid reads
    def date(value: object, *args: Any, **kwargs: Any) -> Any:
        try:
            return date_filter(value, *args, **kwargs)
        except (OSError, OverflowError, ValueError):
            return str(value)

    return date


class StudioEnvironment(Environment):
    # A safety net beyond Studio's per-loop cap (nested loops, cycle, tablerow): a template can
    # never run away with the worker.
    loop_iteration_limit = 10_000
    output_stream_limit = 64 * 1024

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        self.add_tag(CappedForTag)
        self.filters["to_json"] = _to_json
        self.filters["date"] = _returning_input_on_bad_dates(self.filters["date"])

    def from_string(self, source: str, *args: Any, **kwargs: Any) -> BoundTemplate:
        # Here rather than in CompiledTemplate so validation's strict parse agrees with runs.
        return super().from_string(_bracket_keyword_segments(source), *args, **kwargs)


ENV = StudioEnvironment(tolerance=Mode.LAX)
# Strict twin used only to report problems to flow designers; runs never use it.
STRICT_ENV = StudioEnvironment(tolerance=Mode.STRICT)


_OUTPUT = re.compile(r"\{\{\s*([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\s*\}\}")
_MISSING = object()


def _simple_parts(source: str) -> list[str | tuple[str, ...]] | None:
    """Literal text and plain ``{{ a.b.c }}`` outputs, or None when the template needs Liquid.

    Most Studio properties are text with variables and nothing else ("Hi {{flow.variables.name}}");
    those render by dictionary look-ups, many times faster than walking a Liquid template.
    """
    if "{%" in source:
        return None
    parts: list[str | tuple[str, ...]] = []
    position = 0
    for match in _OUTPUT.finditer(source):
        path = tuple(match.group(1).split("."))
        if path[0] in LIQUID_KEYWORDS:
            return None
        parts.append(source[position : match.start()])
        parts.append(path)
        position = match.end()
    parts.append(source[position:])
    if any(isinstance(p, str) and ("{{" in p or "}}" in p) for p in parts):
        return None  # filters, whitespace control or other syntax: leave it to Liquid
    return parts


def _lookup(context: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = context
    for name in path:
        if not isinstance(value, Mapping):
            return _MISSING  # ``.size``, ``.first`` and friends: Liquid knows them
        value = value.get(name)
        if value is None:
            return None
    return value


class CompiledTemplate:
    __slots__ = ("error", "parts", "source", "template")

    def __init__(self, source: str) -> None:
        self.source = source
        self.error: str | None = None
        self.template: BoundTemplate | None = None
        self.parts = _simple_parts(source)
        try:
            self.template = ENV.from_string(source)
        except LiquidError as exc:
            # Even lax mode refuses markup that does not tokenize (``{{ name``); keep the flow
            # loadable and render such a property as empty, as Studio does.
            self.error = str(exc)
            self.parts = None

    def render(self, context: Mapping[str, Any]) -> str:
        if self.parts is not None:
            rendered = self._render_simple(context)
            if rendered is not None:
                return rendered
        if self.template is None:
            return ""
        try:
            # Lax mode already blanks each failing node, and stops writing at the output limit.
            return self.template.render(**context)
        except Exception:
            # Last guard: filters fed with customer text can raise plain Python errors, and a
            # template must never crash a run; Studio renders what it cannot evaluate as empty.
            return ""

    def _render_simple(self, context: Mapping[str, Any]) -> str | None:
        out: list[str] = []
        for part in self.parts or ():
            if isinstance(part, str):
                out.append(part)
                continue
            value = _lookup(context, part)
            if value is None:
                continue  # undefined renders empty, as in Liquid
            if isinstance(value, bool):
                out.append("true" if value else "false")
            elif isinstance(value, str | int | float):
                out.append(str(value))
            else:
                return None  # lists, objects and unknown paths render the Liquid way
        return "".join(out)


def syntax_error(source: str) -> str | None:
    """What is wrong with a template, for validation; None when it parses strictly."""
    try:
        STRICT_ENV.from_string(source)
    except LiquidError as exc:
        return str(exc)
    return None


def compile_value(value: Any) -> Any:
    """Replace Liquid strings inside ``value`` (nested dicts and lists) with compiled templates."""
    if isinstance(value, str):
        return CompiledTemplate(value) if any(m in value for m in MARKUP) else value
    if isinstance(value, dict):
        return {k: compile_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [compile_value(v) for v in value]
    return value


def has_templates(value: Any) -> bool:
    if isinstance(value, CompiledTemplate):
        return True
    if isinstance(value, dict):
        return any(has_templates(v) for v in value.values())
    if isinstance(value, list):
        return any(has_templates(v) for v in value)
    return False


# Renders a compiled value (see ``render_plan``) against a Liquid context.
Renderer = Callable[[Mapping[str, Any]], Any]


def render_plan(value: Any) -> Renderer:
    """A renderer for a compiled value that walks only the parts holding templates.

    What renders to the same thing every time (offsets, constant strings, whole untemplated
    subtrees) is returned as it is, shared between renders, as the properties of a state without
    templates always were; keys keep their order.
    """
    if isinstance(value, CompiledTemplate):
        return value.render
    if not has_templates(value):
        return lambda _context: value
    if isinstance(value, dict):
        entries = tuple(
            (key, render_plan(item) if has_templates(item) else None, item)
            for key, item in value.items()
        )
        return lambda context: {
            key: item if plan is None else plan(context) for key, plan, item in entries
        }
    assert isinstance(value, list)
    slots = tuple((render_plan(item) if has_templates(item) else None, item) for item in value)
    return lambda context: [item if plan is None else plan(context) for plan, item in slots]


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, CompiledTemplate):
        return value.render(context)
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value


def render_string(source: str, context: Mapping[str, Any]) -> str:
    """Render a template that is not part of a compiled flow (CLI, tests, one-off strings)."""
    return CompiledTemplate(source).render(context) if any(m in source for m in MARKUP) else source
