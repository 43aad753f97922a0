"""Liquid templates as Studio uses them, compiled once per flow version.

Studio renders every string property of a widget with Liquid before the widget runs. A flow's
properties are walked once at compile time: strings holding Liquid markup become compiled
templates, everything else stays a constant, so rendering at run time parses nothing.

Studio's dialect differs from plain python-liquid in ways that matter here:

- a broken expression renders as empty and never fails the widget, so the environment runs in
  lax mode (one bad tag or filter blanks itself, not the whole message; filters that fail with
  plain Python errors are made to fail as Liquid errors for that);
- a template that does not parse at all keeps its text: what comes before markup left open
  (``{{flow.variables.id`` with no closing braces, published in a real Studio export) renders,
  and the unclosed rest stays as written; any other template that does not parse renders as
  its own text, unchanged (see ``CompiledTemplate``; validation warns about both);
- every ``for`` loop stops after ``MAX_LOOP_ITERATIONS`` items, silently, and ``limit:`` reads
  as in Shopify's Liquid (0 or less: no items);
- a template cannot run away with the worker's memory or time: a range literal holds at most
  ``MAX_RANGE_ITEMS`` numbers, ``assign``/``capture`` stop past ``local_namespace_limit``, and
  ``replace``/``join`` refuse results past ``MAX_FILTER_TEXT`` characters (found by tests/fuzz:
  ``(1..99999999999) | join`` ran for minutes, and an ``assign`` doubling a string in nested
  loops, or ``replace: "", s``, grew it to gigabytes);
- output is the text as rendered ("\r\n" stays "\r\n"), the same on the fast path for plain
  ``{{ a.b }}`` templates and through Liquid;
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
from io import StringIO
from itertools import islice
from typing import TYPE_CHECKING, Any, Self, TextIO

from liquid import Environment, Mode, soft_str
from liquid.builtin.expressions import LoopExpression
from liquid.builtin.expressions.primitive import RangeLiteral
from liquid.builtin.tags.for_tag import ForNode, ForTag
from liquid.builtin.tags.tablerow_tag import TablerowNode, TablerowTag
from liquid.context import RenderContext
from liquid.exceptions import FilterError, FilterValueError, LiquidError
from liquid.output import LimitedStringIO
from liquid.template import BoundTemplate

if TYPE_CHECKING:
    from liquid.stream import TokenStream

MAX_LOOP_ITERATIONS = 15  # Studio renders at most 15 iterations of each for loop
MAX_RANGE_ITEMS = 10_000  # (a..b) is cut to its first 10,000 numbers
MAX_OUTPUT_BYTES = 64 * 1024  # a rendered property is cut at 64 KiB (UTF-8)
MAX_FILTER_TEXT = 8 * 1024 * 1024  # what replace and join may make (characters)
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


class SlicedLoopExpression(LoopExpression):
    """A loop expression (``for``, ``tablerow``) that reads ``limit`` as Shopify's Liquid does:
    the items from ``offset`` up to ``offset + limit``, none when that end is not past 0.
    python-liquid reads ``limit: 0`` as no limit, and hands a negative end (``limit: -1``, or
    ``offset: -9 limit: 3``) to ``islice``, whose ValueError lax mode does not catch: the whole
    property rendered as empty (found by tests/fuzz, with ``limit: flow.data.n``)."""

    __slots__ = ()

    @classmethod
    def replacing(cls, expression: LoopExpression) -> Self:
        return cls(
            expression.token,
            expression.identifier,
            expression.iterable,
            limit=expression.limit,
            offset=expression.offset,
            reversed_=expression.reversed,
            cols=expression.cols,
        )

    def _slice(
        self,
        it: Iterator[object],
        length: int,
        context: RenderContext,
        *,
        limit: int | None,
        offset: int | str | None,
    ) -> tuple[Iterator[object], int]:
        start = offset if isinstance(offset, int) else 0  # "continue": where one stopped, >= 0
        if limit is not None and (limit <= 0 or start + limit <= 0):
            super()._slice(it, length, context, limit=None, offset=offset)  # offset bookkeeping
            return iter(()), 0
        return super()._slice(it, length, context, limit=limit, offset=offset)


class CappedLoopExpression(SlicedLoopExpression):
    """A ``for`` loop expression that yields at most ``MAX_LOOP_ITERATIONS`` items."""

    __slots__ = ()

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
        node.expression = CappedLoopExpression.replacing(node.expression)
        return node


class SlicedTablerowTag(TablerowTag):
    """The built-in ``tablerow`` tag with ``limit`` read as in ``SlicedLoopExpression``."""

    def parse(self, stream: TokenStream) -> TablerowNode:
        node = super().parse(stream)
        node.expression = SlicedLoopExpression.replacing(node.expression)
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


_liquid_make_range = RangeLiteral._make_range


def _capped_range(self: RangeLiteral, start: Any, stop: Any) -> range:
    """python-liquid's range, cut to ``MAX_RANGE_ITEMS`` numbers: filters walk a range whole
    (``join``, ``map``, ``sort``), and ``(1..99999999999)`` is ten billion of them. Installed on
    python-liquid's class because its parser builds ``RangeLiteral`` by name; this process
    renders Liquid only through the environments below."""
    return _liquid_make_range(self, start, stop)[:MAX_RANGE_ITEMS]


RangeLiteral._make_range = _capped_range  # type: ignore[method-assign]


def _replace_size(value: object, search: object = "", substitute: object = "", *_: Any) -> int:
    """The length of ``value | replace: search, substitute`` (value as ``string_filter``
    reads it), counted before it is made: every occurrence (every gap, for an empty search)
    grows the text by the substitute, so a few replaces multiply it past any memory."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    old, new = soft_str(search), soft_str(substitute)
    occurrences = len(text) + 1 if not old else text.count(old)
    return len(text) + occurrences * max(0, len(new) - len(old))


def _join_size(value: object, separator: object = " ", *_: Any, **__: Any) -> int:
    """What the separators of ``value | join: separator`` alone add up to."""
    count = len(value) if isinstance(value, list | tuple | range) else 0
    return count * len(separator if isinstance(separator, str) else str(separator))


def _bounded(text_filter: Callable[..., Any], size: Callable[..., int]) -> Callable[..., Any]:
    """``text_filter`` refusing (as a Liquid error, which renders as nothing in lax mode) to
    make more than ``MAX_FILTER_TEXT`` characters."""

    @functools.wraps(text_filter)  # keeps the with_environment marker python-liquid reads
    def bounded(value: object, *args: Any, **kwargs: Any) -> Any:
        if size(value, *args, **kwargs) > MAX_FILTER_TEXT:
            raise FilterValueError(f"the result is longer than {MAX_FILTER_TEXT}", token=None)
        return text_filter(value, *args, **kwargs)

    return bounded


def _failing_as_liquid(name: str, liquid_filter: Callable[..., Any]) -> Callable[..., Any]:
    """``liquid_filter`` raising a Liquid error for any failure. python-liquid's math and
    rounding filters let Python errors out for text such as ``inf``, ``nan`` or ``1e999``
    (decimal.InvalidOperation, OverflowError, ValueError); lax mode catches Liquid errors only,
    so one such value rendered the whole property as empty instead of only its expression
    (found by tests/fuzz: a customer who types "inf" where a flow adds 1)."""

    @functools.wraps(liquid_filter)  # keeps the with_environment/with_context markers
    def failing_as_liquid(*args: Any, **kwargs: Any) -> Any:
        try:
            return liquid_filter(*args, **kwargs)
        except LiquidError:
            raise
        except Exception as exc:
            raise FilterError(f"{name}: {type(exc).__name__}: {exc}", token=None) from exc

    return failing_as_liquid


def _verbatim_buffer(limit: int | None, carry: int = 0) -> StringIO:
    """An output buffer that keeps text as it is. python-liquid's size-limited buffer is a
    StringIO in universal-newlines mode, which turns every "\r\n" and "\r" into "\n" (found by
    tests/fuzz: ``{{ x }}`` kept a customer's "\r\n" and ``{{ x | strip }}`` did not)."""
    return StringIO() if limit is None else LimitedStringIO(limit=limit - carry, newline="\n")


class _VerbatimContext(RenderContext):
    def get_buffer(self, buf: TextIO | None = None) -> StringIO:
        carry = buf.size if isinstance(buf, LimitedStringIO) else 0
        return _verbatim_buffer(self.env.output_stream_limit, carry)


class _VerbatimTemplate(BoundTemplate):
    context_class = _VerbatimContext

    def _get_buffer(self) -> StringIO:
        return _verbatim_buffer(self.env.output_stream_limit)


class StudioEnvironment(Environment):
    # A safety net beyond Studio's per-loop cap (nested loops, cycle, tablerow): a template can
    # never run away with the worker.
    loop_iteration_limit = 10_000
    output_stream_limit = MAX_OUTPUT_BYTES
    # What ``assign`` and ``capture`` may hold (bytes, as sys.getsizeof counts them): room for
    # a whole HTTP response body (1 MiB, up to 4 bytes a character), never gigabytes.
    local_namespace_limit = 8 * 1024 * 1024
    template_class = _VerbatimTemplate

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        self.add_tag(CappedForTag)
        self.add_tag(SlicedTablerowTag)
        self.filters["to_json"] = _to_json
        self.filters["date"] = _returning_input_on_bad_dates(self.filters["date"])
        self.filters["replace"] = _bounded(self.filters["replace"], _replace_size)
        self.filters["join"] = _bounded(self.filters["join"], _join_size)
        for name, liquid_filter in list(self.filters.items()):
            self.filters[name] = _failing_as_liquid(name, liquid_filter)

    def from_string(self, source: str, *args: Any, **kwargs: Any) -> BoundTemplate:
        # Here rather than in CompiledTemplate so validation's strict parse agrees with runs.
        return super().from_string(_bracket_keyword_segments(source), *args, **kwargs)


ENV = StudioEnvironment(tolerance=Mode.LAX)
# Strict twin used only to report problems to flow designers; runs never use it.
STRICT_ENV = StudioEnvironment(tolerance=Mode.STRICT)


_OUTPUT = re.compile(r"\{\{\s*([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\s*\}\}")
_MISSING = object()
_COMPUTED = frozenset({"size", "first", "last"})  # what Liquid works out when no key is named so


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
        if name in _COMPUTED and name not in value:
            return _MISSING  # a mapping's ``.size`` is its length (found by tests/fuzz)
        value = value.get(name)
        if value is None:
            return None
    return value


def unclosed_markup_at(source: str) -> int | None:
    """Where the first ``{{`` or ``{%`` that is never closed starts, if one is."""
    position = 0
    while True:
        starts = [i for i in (source.find("{{", position), source.find("{%", position)) if i >= 0]
        if not starts:
            return None
        start = min(starts)
        closer = "}}" if source.startswith("{{", start) else "%}"
        end = source.find(closer, start + 2)
        if end < 0:
            return start
        position = end + 2


class CompiledTemplate:
    __slots__ = ("error", "parts", "source", "tail", "template")

    def __init__(self, source: str) -> None:
        self.source = source
        self.error: str | None = None
        self.template: BoundTemplate | None = None
        self.tail = ""  # text after the template's output, kept as written
        self.parts = _simple_parts(source)
        try:
            self.template = ENV.from_string(source)
        except LiquidError as exc:
            # Even lax mode refuses some markup (``{{ name`` never closed, ``{% if %}`` with no
            # ``endif``). Studio publishes such flows and runs them; its run-time behaviour is
            # not documented, so the text is kept rather than blanked: the part before markup
            # left open renders, the rest stays as written; otherwise the whole property is
            # its own text. Nothing a customer sees goes missing without a trace.
            self.error = str(exc)
            self.parts = None
            self.template, self.tail = _salvage(source)

    def render(self, context: Mapping[str, Any]) -> str:
        if self.parts is not None:
            rendered = self._render_simple(context)
            if rendered is not None:
                return rendered
        if self.template is None:
            return _within_output_limit(self.source)  # no part of it parses: kept as written
        try:
            # Lax mode already blanks each failing node, and stops writing at the output limit.
            rendered = self.template.render(**context)
            return _within_output_limit(rendered + self.tail) if self.tail else rendered
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
        rendered = "".join(out)
        if len(rendered) * 4 > MAX_OUTPUT_BYTES and len(rendered.encode()) > MAX_OUTPUT_BYTES:
            return None  # past the output limit: Liquid cuts it (found by tests/fuzz)
        return rendered


def _within_output_limit(text: str) -> str:
    """``text`` cut at ``MAX_OUTPUT_BYTES`` of UTF-8, as Liquid cuts what it renders."""
    if len(text) * 4 <= MAX_OUTPUT_BYTES:
        return text
    return text.encode()[:MAX_OUTPUT_BYTES].decode(errors="ignore")


def _salvage(source: str) -> tuple[BoundTemplate | None, str]:
    """For a template that does not parse: the template of the text before the markup left
    open, and that open rest as text; (None, "") when there is no such split."""
    start = unclosed_markup_at(source)
    if start is None or start == 0:
        return None, ""
    try:
        return ENV.from_string(source[:start]), source[start:]
    except LiquidError:
        return None, ""


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
