"""Liquid as Studio uses it: the filters and tags flows use, its loop cap, its forgiveness."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import widgets
from server.engine import compile_flow
from server.engine import effects as fx
from server.engine.templates import (
    LIQUID_KEYWORDS,
    MAX_LOOP_ITERATIONS,
    CompiledTemplate,
    StudioEnvironment,
    render_string,
    syntax_error,
)
from server.engine.widget import WidgetCall, WidgetResult, WidgetType
from server.model import text_of

from .harness import CUSTOMER, Runner, body, flow_of, new_execution, one, state, trigger

CHILD_FIXTURE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "fixtures"
    / "studio"
    / "daily-sit-down-child.json"
)

CONTEXT: dict[str, Any] = {
    "trigger": {"message": {"Body": " Hello World ", "From": CUSTOMER}},
    "flow": {
        "variables": {"name": "ann", "count": "5", "items": [f"i{n}" for n in range(20)]},
        "data": {"order": {"id": 42, "lines": [1, 2]}},
        "channel": {"address": "+15550002222"},
    },
    "widgets": {"api": {"parsed": {"limit": 3, "in": {"stock": True}, "offset": 7}}},
    "contact": {"channel": {"address": CUSTOMER}, "attributes": {"tier": "gold"}},
    "conversation": {"id": "CH1", "channel": "sms"},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # filters
        ('{{ trigger.message.Body | remove: "World" }}', " Hello  "),
        ("{{ flow.variables.name | upcase }}", "ANN"),
        ('{{ "2024-03-01T10:30:00" | date: "%d/%m/%Y %H:%M" }}', "01/03/2024 10:30"),
        ("{{ flow.variables.count | minus: 2 }}", "3"),
        ("{{ flow.variables.count | plus: 2 }}", "7"),
        ("{{ flow.variables.count | plus: 0.5 }}", "5.5"),
        ('{{ flow.variables.missing | default: "friend" }}', "friend"),
        ('{{ flow.variables.name | default: "friend" }}', "ann"),
        ("{{ flow.data | to_json }}", '{"order":{"id":42,"lines":[1,2]}}'),
        ("{{ contact.attributes.tier | to_json }}", '"gold"'),
        # tags
        ('{% if contact.attributes.tier == "gold" %}VIP{% else %}std{% endif %}', "VIP"),
        ("{% if flow.variables.count > 3 %}many{% endif %}", ""),  # "5" is text, as in Studio
        ("{% if flow.data.order.id > 3 %}big{% endif %}", "big"),
        ('{% assign greeting = "Hi " | append: flow.variables.name %}{{ greeting }}!', "Hi ann!"),
        ("{% for line in flow.data.order.lines %}[{{ line }}]{% endfor %}", "[1][2]"),
        # every namespace Studio and Threadline define
        ("{{ trigger.message.From }}", CUSTOMER),
        ("{{ flow.channel.address }}", "+15550002222"),
        ("{{ contact.channel.address }}", CUSTOMER),
        ("{{ conversation.channel }}", "sms"),
        ("{{ widgets.api.parsed.offset }}", "7"),
    ],
)
def test_studio_filters_and_tags(template: str, expected: str) -> None:
    assert render_string(template, CONTEXT) == expected


def test_date_now_formats_the_current_date() -> None:
    # As in the daily-sit-down child flow; "now" reads the clock, as Studio does.
    before = datetime.now().strftime("%Y-%m-%d")
    rendered = render_string('{{ "now" | date: "%Y-%m-%d" }}', CONTEXT)
    after = datetime.now().strftime("%Y-%m-%d")
    assert rendered in {before, after}


def test_a_for_loop_renders_at_most_fifteen_iterations() -> None:
    rendered = render_string("{% for i in flow.variables.items %}{{ i }},{% endfor %}", CONTEXT)
    assert rendered.split(",")[:-1] == [f"i{n}" for n in range(MAX_LOOP_ITERATIONS)]
    assert MAX_LOOP_ITERATIONS == 15


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{% for i in (1..20) %}{% if forloop.last %}{{forloop.length}}{% endif %}{% endfor %}",
            "15",
        ),
        ("{% for i in (1..20) limit: 3 %}{{ i }}{% endfor %}", "123"),
        ("{% for i in (1..20) offset: 17 %}{{ i }}{% endfor %}", "181920"),
        (
            "{% for i in (1..20) reversed %}{% if forloop.first %}{{ i }}{% endif %}{% endfor %}",
            "20",
        ),
        ("{% for i in (1..3) %}{{ i }}{% endfor %}", "123"),
        ("{% for i in flow.variables.missing %}x{% else %}none{% endfor %}", "none"),
    ],
)
def test_the_cap_keeps_for_loop_options(template: str, expected: str) -> None:
    assert render_string(template, CONTEXT) == expected


def test_each_nested_loop_is_capped_on_its_own() -> None:
    rendered = render_string(
        "{% for a in (1..20) %}{% for b in (1..20) %}.{% endfor %}{% endfor %}", CONTEXT
    )
    assert len(rendered) == MAX_LOOP_ITERATIONS * MAX_LOOP_ITERATIONS


@pytest.mark.parametrize(
    "template",
    [
        "{{ nothing }}",
        "{{ flow.variables.nothing.deeper }}",
        "{{ widgets.never_ran.inbound.Body }}",
        "{{ widgets.never_ran.inbound.Body | upcase }}",
        "{% if flow.variables.nothing %}x{% endif %}",
    ],
)
def test_undefined_variables_render_empty(template: str) -> None:
    assert render_string(template, CONTEXT) == ""


@pytest.mark.parametrize("keyword", sorted(LIQUID_KEYWORDS))
def test_property_names_that_are_liquid_keywords_still_resolve(keyword: str) -> None:
    context = {"flow": {"variables": {keyword: "v"}}}
    assert render_string(f"{{{{ flow.variables.{keyword} }}}}", context) == "v"
    assert render_string(f"{{{{flow.variables.{keyword}|upcase}}}}", context) == "V"


def test_keyword_names_work_in_tags_and_leave_strings_alone() -> None:
    template = (
        "{% if widgets.api.parsed.in.stock and widgets.api.parsed.limit > 2 %}ok{% endif %}"
        '{{ "a.limit" }}{{ widgets.api.parsed.limit | plus: 1 }}'
    )
    assert render_string(template, CONTEXT) == "oka.limit4"


def test_liquid_keyword_list_matches_python_liquid() -> None:
    # Guards the bracket rewrite against a python-liquid upgrade that adds keywords.
    from liquid.builtin.expressions import _tokenize

    assert frozenset(_tokenize._keywords) <= LIQUID_KEYWORDS


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # Markup left open: what comes before it renders, the rest stays as written.
        ("Hi {{ flow.variables.name", "Hi {{ flow.variables.name"),
        ("{{flow.variables.name}}: {{flow.variables.x", "ann: {{flow.variables.x"),
        ("Hi {% if %}x{% endif %}!", "Hi !"),  # a broken tag blanks itself only
        ("Hi {{ 5 | divided_by: 0 }}{{ flow.variables.name }}", "Hi ann"),
        ("Hi {{ flow.variables.name | no_such_filter }}!", "Hi !"),
        ("{% no_such_tag %}Hi", "Hi"),
    ],
)
def test_template_errors_never_raise(template: str, expected: str) -> None:
    assert render_string(template, CONTEXT) == expected


def test_syntax_errors_are_reported_for_validation() -> None:
    assert syntax_error("{{ flow.variables.name }}") is None
    assert syntax_error("{{ flow.variables.limit }}") is None
    assert "expected '}}'" in (syntax_error("Hi {{ name") or "")
    assert CompiledTemplate("Hi {{ name").error is not None


def test_a_flow_with_a_broken_template_compiles_and_runs() -> None:
    flow = flow_of(
        trigger(incomingMessage="say"),
        state("say", "send-message", {"sent": None}, body="Hi {{ trigger.message.Body"),
    )
    result = Runner(flow).start("ann")
    assert result.execution.status == "active"
    # Kept as written rather than sent as an empty message.
    assert text_of(one(result.effects, fx.SendMessage).parts) == "Hi {{ trigger.message.Body"


def test_a_template_that_does_not_parse_at_all_keeps_its_text() -> None:
    # As published in a real Studio export: the braces are never closed, so even lax mode
    # refuses it and nothing before the open markup could render.
    source = "{{flow.variables.reservation_id"
    assert CompiledTemplate(source).error is not None
    assert render_string(source, CONTEXT) == source


def test_rendering_stops_at_the_output_limit() -> None:
    # The environment's safety net: a runaway template is cut short instead of eating memory.
    huge = "{% for a in (1..15) %}{% for b in (1..15) %}" + "x" * 400 + "{% endfor %}{% endfor %}"
    rendered = render_string(huge, CONTEXT)
    assert 60_000 < len(rendered) <= StudioEnvironment.output_stream_limit < 15 * 15 * 400


@pytest.mark.parametrize(
    ("body", "expected"),
    [("99999999999999999", "99999999999999999"), ("soon", "soon"), ("2024-02-29", "2024")],
)
def test_date_of_customer_text_never_raises(body: str, expected: str) -> None:
    context = {"trigger": {"message": {"Body": body}}}
    assert render_string('{{ trigger.message.Body | date: "%Y" }}', context) == expected


def _waits(call: WidgetCall) -> WidgetResult:
    return WidgetResult(waiting={"parameters": call.props.get("parameters")})


# The child flow ends in run-function, which this area does not own: a widget that only waits.
RUN_FUNCTION_STANDIN = WidgetType("run-function", ("success", "fail"), {"type": "object"}, _waits)


def test_daily_sit_down_child_renders_upcase_and_date_now() -> None:
    definition = json.loads(CHILD_FIXTURE.read_text())
    registry = {**widgets.REGISTRY, "run-function": RUN_FUNCTION_STANDIN}
    flow = compile_flow(definition, registry, sid="FWchild", name="daily-sit-down-child")
    runner = Runner(flow, new_execution(flow))
    today = datetime.now().strftime("%Y-%m-%d")

    result = runner.start(trigger="incomingParent", parameters={"name": "ann"})
    assert body(one(result.effects, fx.SendMessage)) == "ANN what did you do yesterday?"
    result = runner.reply("tests")
    assert body(one(result.effects, fx.SendMessage)) == "ANN what will you do today?"
    result = runner.reply("Tests")  # same answer: the split's templated equal_to matches
    same_thing = one(result.effects, fx.SendMessage)
    assert body(same_thing).startswith("Weren\u2019t you working on that")
    runner.ok(same_thing.request_id)
    result = runner.reply("none")

    assert result.execution.state == "save_to_airtable"
    variables = result.execution.context["flow"]["variables"]
    assert variables["date"] in {today, datetime.now().strftime("%Y-%m-%d")}
    assert variables == {
        "name": "ann",
        "date": variables["date"],
        "number": CUSTOMER,
        "yesterday": "tests",
        "today": "Tests",
        "impediments": "none",
    }
    parameters = {p["key"]: p["value"] for p in result.execution.waiting["parameters"]}
    assert parameters["date"] == variables["date"]
    assert parameters["name"] == "ann"
