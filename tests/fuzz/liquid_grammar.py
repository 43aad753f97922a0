"""Hypothesis strategies for Liquid templates (docs/liquid.md): well-formed ones built from
Liquid's grammar (so they get past the parser to the tags and filters), broken ones made from
those, and hostile contexts to render them with.

Expressions never contain ``{``, ``}`` or ``%``, so an output ``{{ ... }}`` always closes where
the grammar closes it: a test can tell the text around an expression from the expression.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.fuzz.strategies import EDGE_INTS, json_values, long_texts

# Text outside markup, and inside string literals: anything but Liquid's delimiters and quotes.
_SAFE = st.characters(blacklist_characters="{}%\"'", blacklist_categories=["Cs"])
plain_texts = st.text(_SAFE, max_size=12)

LOCALS = ("x", "s", "items", "i")
# Property names, including words Liquid reads as keywords elsewhere (docs: any name works).
KEYS = ("name", "n", "items", "tries", "limit", "in", "offset", "first", "size", "contains")
ROOTS = (
    "flow.data",
    "flow.variables",
    "trigger.message",
    "trigger.request.parameters",
    "widgets.api.parsed",
    "widgets.never_ran.inbound",
    "contact.attributes",
    "conversation",
    "forloop",
)
FILTERS = (
    # the standard filters docs/liquid.md promises, and Threadline's own
    *("abs", "append", "at_least", "at_most", "capitalize", "ceil", "compact", "concat", "date"),
    *("default", "divided_by", "downcase", "escape", "escape_once", "first", "floor", "join"),
    *("last", "lstrip", "map", "minus", "modulo", "newline_to_br", "plus", "prepend", "remove"),
    *("remove_first", "remove_last", "replace", "replace_first", "replace_last", "reverse"),
    *("round", "rstrip", "size", "slice", "sort", "sort_natural", "split", "strip"),
    *("strip_html", "strip_newlines", "sum", "times", "truncate", "truncatewords", "uniq"),
    *("upcase", "url_decode", "url_encode", "where", "to_json"),
    "no_such_filter",  # unknown: renders as nothing
)

integers = st.one_of(st.integers(-3, 20), st.sampled_from(EDGE_INTS), st.integers())
number_literals = st.one_of(
    integers.map(str),
    st.sampled_from(["1.5", "-0.0", "1e308", "2.5e-3", "0.1", "99999999999999999999.5"]),
)
string_literals = st.one_of(
    plain_texts.map(lambda text: f'"{text}"'),
    plain_texts.map(lambda text: f"'{text}'"),
    st.sampled_from(['"now"', '"%Y-%m-%d %H:%M"', '""', '","', '" "', '"a,b,c"']),
)
keywords = st.sampled_from(["true", "false", "nil", "null", "empty", "blank"])
segments = st.one_of(
    st.sampled_from(KEYS).map(lambda key: f".{key}"),
    st.sampled_from(["[0]", "[-1]", "[99999999999999999999]", ".first", ".last", ".size"]),
    st.sampled_from(KEYS).map(lambda key: f'["{key}"]'),
    st.sampled_from(LOCALS).map(lambda name: f"[{name}]"),
)
paths = st.one_of(
    st.builds(
        lambda root, rest: root + "".join(rest),
        st.sampled_from(ROOTS),
        st.lists(segments, max_size=3),
    ),
    st.builds(
        lambda name, rest: name + "".join(rest),
        st.sampled_from(LOCALS),
        st.lists(segments, max_size=2),
    ),
)
bounds = st.one_of(integers.map(str), paths)
ranges = st.builds(lambda a, b: f"({a}..{b})", bounds, bounds)
primaries = st.one_of(number_literals, string_literals, keywords, paths, ranges)


def _filter(name: str, arguments: list[str]) -> str:
    return f" | {name}" + (": " + ", ".join(arguments) if arguments else "")


filters = st.builds(_filter, st.sampled_from(FILTERS), st.lists(primaries, max_size=2))
expressions = st.builds(
    lambda head, tail: head + "".join(tail), primaries, st.lists(filters, max_size=3)
)
operators = st.sampled_from(["==", "!=", "<", ">", "<=", ">=", "contains", "and", "or"])
conditions = st.builds(
    lambda first, rest: first + "".join(f" {op} {right}" for op, right in rest),
    expressions,
    st.lists(st.tuples(operators, expressions), max_size=2),
)
loop_options = st.lists(
    st.one_of(
        integers.map(lambda n: f" limit: {n}"),
        integers.map(lambda n: f" offset: {n}"),
        st.just(" offset: continue"),
        st.just(" reversed"),
    ),
    max_size=2,
).map("".join)
sequences = st.one_of(ranges, paths, string_literals)
names = st.sampled_from(LOCALS)
whitespace = st.sampled_from(["", "-"])


def _output(expression: str, left: str, right: str) -> str:
    return f"{{{{{left} {expression} {right}}}}}"


outputs = st.builds(_output, expressions, whitespace, whitespace)
simple_tags = st.one_of(
    outputs,
    plain_texts,
    st.builds(lambda name, value: f"{{% assign {name} = {value} %}}", names, expressions),
    st.builds(lambda value: f"{{% echo {value} %}}", expressions),
    st.builds(lambda name: f"{{% increment {name} %}}{{% decrement {name} %}}", names),
    st.builds(lambda a, b: f"{{% cycle {a}, {b} %}}", string_literals, string_literals),
    st.builds(lambda value: f"{{% liquid\nassign x = {value}\necho x %}}", expressions),
    st.just("{% raw %}{{ not rendered }}{% endraw %}"),
    st.just("{% comment %}{{ nothing }}{% endcomment %}"),
    st.sampled_from(['{% include "other" %}', '{% render "other" %}', "{% break %}"]),
)


def _blocks(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    body = st.lists(children, max_size=3).map("".join)
    return st.one_of(
        st.builds(
            lambda cond, then, other, otherwise: (
                f"{{% if {cond} %}}{then}{{% elsif {other} %}}{then}{{% else %}}{otherwise}"
                "{% endif %}"
            ),
            conditions,
            body,
            conditions,
            body,
        ),
        st.builds(
            lambda cond, then: f"{{% unless {cond} %}}{then}{{% endunless %}}", conditions, body
        ),
        st.builds(
            lambda subject, value, then, otherwise: (
                f"{{% case {subject} %}}{{% when {value} %}}{then}{{% else %}}{otherwise}"
                "{% endcase %}"
            ),
            expressions,
            primaries,
            body,
            body,
        ),
        st.builds(
            lambda name, sequence, options, then, stop, otherwise: (
                f"{{% for {name} in {sequence}{options} %}}{then}{stop}"
                f"{{% else %}}{otherwise}{{% endfor %}}"
            ),
            names,
            sequences,
            loop_options,
            body,
            st.sampled_from(["", "{% break %}", "{% continue %}", "{{ forloop.index }}"]),
            body,
        ),
        st.builds(
            lambda name, sequence, options, then: (
                f"{{% tablerow {name} in {sequence}{options} %}}{then}{{% endtablerow %}}"
            ),
            names,
            sequences,
            loop_options,
            body,
        ),
        st.builds(
            lambda name, then: f"{{% capture {name} %}}{then}{{% endcapture %}}", names, body
        ),
    )


# Well-formed templates: text, outputs and tags, nested a few levels.
templates = st.lists(st.recursive(simple_tags, _blocks, max_leaves=8), min_size=1, max_size=3).map(
    "".join
)

# Liquid's delimiters and keywords, to break a template with.
PIECES = (
    *("{{", "}}", "{%", "%}", "{%-", "-}}", "|", ":", ",", "..", "(", ")", '"', "'", "[", "]"),
    *("endif", "endfor", "else", "when", "in", "{% endraw %}", "{% endcomment %}", "\\"),
)


@st.composite
def broken_templates(draw: st.DrawFn) -> str:
    """A well-formed template cut short, with a piece cut out, or a delimiter put in."""
    source = draw(templates)
    at = draw(st.integers(0, len(source)))
    kind = draw(st.sampled_from(["cut", "delete", "insert"]))
    if kind == "cut":
        return source[:at]
    if kind == "delete":
        return source[:at] + source[at + draw(st.integers(1, 8)) :]
    return source[:at] + draw(st.sampled_from(PIECES)) + source[at:]


any_templates = st.one_of(templates, broken_templates(), st.text(max_size=60))

# A context as a flow sees it, every value drawn from hostile data: what customers typed, what
# an HTTP API answered, what earlier widgets produced.
hostile_values = st.one_of(json_values, long_texts, st.sampled_from(["", "0", "-1", "1e999"]))


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    data = draw(st.dictionaries(st.sampled_from(KEYS), hostile_values, max_size=4))
    variables = draw(st.dictionaries(st.sampled_from(KEYS), hostile_values, max_size=3))
    return {
        "trigger": {
            "message": {"Body": draw(hostile_values), "From": "+14155550199"},
            "request": {"parameters": data},
        },
        "flow": {"data": data, "variables": variables, "channel": {"address": "+14155550100"}},
        "widgets": {"api": {"parsed": draw(json_values), "status_code": 200}},
        "contact": {
            "attributes": draw(st.dictionaries(st.sampled_from(KEYS), hostile_values, max_size=3))
        },
        "conversation": {"id": "CV1", "channel": "sms"},
    }
