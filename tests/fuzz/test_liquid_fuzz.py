"""Liquid in flows (docs/liquid.md) under hostile templates and hostile data.

Templates come from Liquid's grammar (every tag and filter, ranges with huge bounds, loops with
any ``limit``/``offset``, property names that are Liquid keywords), some broken on purpose,
rendered against contexts full of what customers and APIs send (huge numbers, "inf", long text,
deep lists). What docs/liquid.md promises is checked as written:

- a template never stops a flow: rendering never raises, stays within its time and 64 KiB, and
  a failing expression or filter renders as nothing while the text around it still renders
  (no Python error escapes Liquid's lax mode to blank the whole property);
- markup that is not even closed keeps its text (what comes before it renders, the open rest
  stays as written), and validation warns about it;
- a ``for`` loop runs at most 15 iterations (``forloop.length`` counts at most 15);
- the fast path for plain ``{{ a.b }}`` templates renders exactly what Liquid renders;
- a flow with such a template runs to its end in the engine (the simulator), and on a real
  server: published through the API (or refused with its issues when validation finds markup
  errors), triggered with hostile parameters, the execution ends and the message stored is the
  template rendered whole.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from liquid import Mode
from sqlalchemy import Engine, select

from server.engine.execution import ENDED
from server.engine.templates import (
    ENV,
    MAX_LOOP_ITERATIONS,
    MAX_OUTPUT_BYTES,
    CompiledTemplate,
    StudioEnvironment,
    unclosed_markup_at,
)
from server.flows.simulator import BotReply, RecordedResponse, Simulator
from server.flows.validation import validate_flow
from server.store.schema import messages
from tests.fuzz.liquid_grammar import (
    any_templates,
    contexts,
    expressions,
    hostile_values,
    loop_options,
    paths,
    plain_texts,
    sequences,
    templates,
)
from tests.fuzz.strategies import dump, json_values
from tests.fuzz.support import ADMIN, WatchedServer, assert_error_body, brief, fuzz, tally

MAX_RENDER_SECONDS = 5.0  # far above any template's need; a runaway one takes minutes
# The run-time environment without the 64 KiB output limit: how long an output would have been.
UNLIMITED = type("Unlimited", (StudioEnvironment,), {"output_stream_limit": None})(
    tolerance=Mode.LAX
)


def render(source: str, context: dict[str, Any]) -> str:
    """``source`` rendered as a flow renders a property, checked against the limits."""
    started = time.monotonic()
    rendered = CompiledTemplate(source).render(context)
    elapsed = time.monotonic() - started
    assert elapsed < MAX_RENDER_SECONDS, f"{elapsed:.1f} s to render {brief(source)}"
    assert len(rendered.encode()) <= MAX_OUTPUT_BYTES, f"past 64 KiB: {brief(source)}"
    return rendered


def flow_with(body: str, trigger: str = "incomingMessage") -> dict[str, Any]:
    """A flow whose set-variables value and send-message body are ``body``; an HTTP call
    first gives ``widgets.api.parsed`` whatever the test recorded."""
    return {
        "description": "liquid fuzz",
        "initial_state": "Trigger",
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [{"event": trigger, "next": "api"}],
            },
            {
                "name": "api",
                "type": "make-http-request",
                "transitions": [
                    {"event": "success", "next": "vars"},
                    {"event": "failed", "next": "vars"},
                ],
                "properties": {"method": "GET", "url": "http://127.0.0.1:9/{{ flow.data.n }}"},
            },
            {
                "name": "vars",
                "type": "set-variables",
                "transitions": [{"event": "next", "next": "say"}],
                "properties": {
                    "variables": [
                        {"key": "n", "value": body},
                        {"key": "tries", "value": "{{ trigger.message.Body }}"},
                    ]
                },
            },
            {
                "name": "say",
                "type": "send-message",
                "transitions": [{"event": "sent"}, {"event": "failed"}],
                "properties": {"body": body},
            },
        ],
    }


@fuzz(300)
@given(source=any_templates, context=contexts())
# Found by this test: each rendered the whole property as empty (a Python error escaped lax
# mode) or ran away with the worker's time and memory.
@example(source="{% for i in (1..5) limit: -3 %}{{ i }}{% endfor %}", context={})
@example(
    source="{% tablerow i in (1..5) offset: -9 limit: 3 %}{{ i }}{% endtablerow %}", context={}
)
@example(source='{{ "inf" | plus: 1 }}{{ "" | round: "nan" }}{{ 1 | sum: nil }}', context={})
@example(source='{{ (1..99999999999) | join: "," | size }}', context={})
# Found by this test: validation raised TemplateNotFoundError (a 500 from the flows API).
@example(source='Hi {% include "other" %}{% render "x" %}', context={})
@example(
    source='{% assign s = "x" %}{% for i in (1..15) %}{% assign s = s | replace: "", s %}'
    "{% endfor %}",
    context={},
)
@example(
    source='{% assign s = "xx" %}{% for i in (1..15) %}{% for j in (1..15) %}'
    "{% assign s = s | append: s %}{% endfor %}{% endfor %}{{ s | size }}",
    context={},
)
def test_a_template_never_fails_and_stays_within_its_limits(
    source: str, context: dict[str, Any]
) -> None:
    compiled = CompiledTemplate(source)
    rendered = render(source, context)
    if compiled.error is None:
        assert compiled.template is not None
        # What lax mode cannot absorb escapes here: it would have blanked the whole property.
        assert compiled.template.render(**context) == rendered, brief(source)
        tally("rendered by Liquid")
    elif compiled.template is not None:
        # Markup left open: the text before it renders, the open rest stays as written.
        whole = compiled.template.render(**context) + compiled.tail
        assert compiled.tail and source.endswith(compiled.tail), brief(source)
        assert whole.encode().startswith(rendered.encode()), brief(source)
        tally("rendered up to markup left open")
    else:
        assert source.encode().startswith(rendered.encode()), "unparsed markup keeps its text"
        tally("does not parse")
    issues = validate_flow(flow_with(source), file="fuzz", warnings=True)  # never raises
    syntax = [i for i in issues if "Liquid syntax error" in i.message]
    if compiled.error is not None:
        assert syntax, f"validation let through markup that does not parse: {brief(source)}"
        assert all(i.severity == "warning" for i in syntax), brief(source)


@fuzz(200)
@given(
    before=plain_texts,
    expression=expressions,
    after=plain_texts,
    context=contexts(),
)
# The output limit, not a failure: the sorted range alone is past 64 KiB.
@example(before="", expression="(-9223372036854775809..0) | sort", after="0", context={})
def test_the_text_around_a_failing_expression_still_renders(
    before: str, expression: str, after: str, context: dict[str, Any]
) -> None:
    rendered = render(f"{before}{{{{ {expression} }}}}{after}", context)
    alone = UNLIMITED.from_string(f"{{{{ {expression} }}}}").render(**context)
    if len(f"{before}{alone}{after}".encode()) > MAX_OUTPUT_BYTES:
        tally("cut at the output limit")  # documented: nothing after the limit renders
        return
    assert rendered.startswith(before) and rendered.endswith(after), (expression, rendered)


@fuzz(100)
@given(before=plain_texts, opener=st.sampled_from(["{{ ", "{% "]), expression=expressions)
@example(before="Hi ", opener="{{ ", expression="name")  # docs/liquid.md's own example
def test_markup_that_is_not_closed_keeps_its_text(
    before: str, opener: str, expression: str
) -> None:
    source = f"{before}{opener}{expression}"
    if unclosed_markup_at(source) is None:
        tally("closed after all (a string literal holding the closer)")
        return
    # The plain text before it renders as itself; the open rest stays as written.
    assert render(source, {}) == source
    issues = validate_flow(flow_with(source), file="fuzz", warnings=True)
    assert any("Liquid syntax error" in issue.message for issue in issues), brief(source)
    assert all(i.severity == "warning" for i in issues if "Liquid" in i.message), brief(source)


@fuzz(150)
@given(sequence=sequences, options=loop_options, context=contexts())
def test_a_for_loop_runs_at_most_15_times(
    sequence: str, options: str, context: dict[str, Any]
) -> None:
    context = {**context, "items": list(range(100))}
    dots = render(f"{{% for v in {sequence}{options} %}}.{{% endfor %}}", context)
    assert set(dots) <= {"."} and len(dots) <= MAX_LOOP_ITERATIONS, (sequence, options, dots)
    length = render(
        f"{{% for v in {sequence}{options} %}}{{{{ forloop.length }}}}|{{% endfor %}}", context
    )
    counts = {int(n) for n in length.split("|") if n}
    assert counts <= set(range(MAX_LOOP_ITERATIONS + 1)), (sequence, options, length)


simple_templates = st.lists(
    st.one_of(
        plain_texts,
        paths.map(lambda path: f"{{{{ {path} }}}}"),
        paths.map(lambda path: f"{{{{{path}}}}}"),
    ),
    max_size=5,
).map("".join)


@fuzz(200)
@given(source=simple_templates, context=contexts())
# Found by this test: Liquid's output buffer turned "\r\n" into "\n", the fast path did not.
@example(source="{{ flow.data.name }}", context={"flow": {"data": {"name": "a\r\nb"}}})
# Found by this test: the fast path did not stop at 64 KiB, and read a mapping's .size as a key.
@example(source="{{ flow.data.size }}", context={"flow": {"data": {}}})
@example(source="a{{ flow.data.name }}b", context={"flow": {"data": {"name": "y" * 70_000}}})
def test_the_fast_path_renders_what_liquid_renders(source: str, context: dict[str, Any]) -> None:
    compiled = CompiledTemplate(source)
    assert compiled.render(context) == ENV.from_string(source).render(**context), brief(source)
    tally("fast path" if compiled.parts is not None else "Liquid")


@fuzz(100)
@given(body=templates, customer=hostile_values, api=json_values)
# Found by the long run: the simulator read these as choice numbers and int() refused them.
@example(body="", customer="0" * 4301, api=None)
@example(body="", customer="\u00b2", api=None)
def test_a_flow_with_any_template_runs_to_its_end(body: str, customer: Any, api: Any) -> None:
    simulator = Simulator(flow_with(body), name="liquid-fuzz")
    simulator.record_http(RecordedResponse(200, dump(api), "application/json"))
    outputs = simulator.customer_says(customer if isinstance(customer, str) else dump(customer))
    execution = simulator.execution
    assert execution is not None and execution.status == ENDED, (brief(body), outputs)
    assert str(execution.ended_reason).startswith("say."), execution.ended_reason
    replies = [output for output in outputs if isinstance(output, BotReply)]
    assert len(replies) <= 1, replies
    for reply in replies:
        assert len(reply.text.encode()) <= MAX_OUTPUT_BYTES
    tally(f"{len(replies)} replies")


# --- on a real server ---------------------------------------------------------------------------

FLOW = "fuzz-liquid"


def publish(server: WatchedServer, definition: dict[str, Any]) -> Any:
    return server.http.put(f"/api/v1/flows/{FLOW}", json=definition, headers=ADMIN)


def finished(server: WatchedServer, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        response = server.http.get(f"/api/v1/executions/{execution_id}", headers=ADMIN)
        assert response.status_code == 200, response.text
        execution: dict[str, Any] = response.json()
        if execution["status"] != "active" or time.monotonic() > deadline:
            return execution
        time.sleep(0.02)


@fuzz(50)
@given(
    body=st.one_of(templates, any_templates).map(
        lambda source: source.replace('"now"', '"2020-01-02"')
    ),
    parameters=st.dictionaries(
        st.sampled_from(["n", "name", "items", "limit"]), hostile_values, max_size=3
    ),
)
def test_a_published_flow_runs_any_template_on_a_server(
    server: WatchedServer, database: Engine, body: str, parameters: dict[str, Any]
) -> None:
    response = publish(server, flow_with(body, trigger="incomingRequest"))
    tally(f"published {response.status_code}")
    if response.status_code == 422:  # validation found errors: the documented answer
        assert_error_body(response, body)
        assert response.json()["issues"], response.text
        server.assert_healthy(body)
        return
    assert response.status_code in (200, 201), response.text
    to = f"+1415{uuid.uuid4().int % 10**7:07d}"
    started = server.http.post(
        f"/api/v1/flows/{FLOW}/executions",
        json={"To": to, "From": "+14155550100", "Parameters": parameters},
        headers=ADMIN,
    )
    assert started.status_code == 201, started.text
    execution = finished(server, started.json()["id"])
    assert execution["status"] == "ended", (
        brief(body),
        execution["status"],
        execution["ended_reason"],
    )
    assert str(execution["ended_reason"]).startswith("say."), execution["ended_reason"]
    with database.connect() as conn:
        query = select(messages.c.text).where(
            messages.c.conversation_id == execution["conversation_id"],
            messages.c.direction == "outbound",
        )
        sent = [row.text for row in conn.execute(query)]
    # The body as the engine renders it with the execution's own context (what the API shows).
    expected = CompiledTemplate(body).render(execution["context"])
    if expected.strip():
        assert sent == [expected], (brief(body), sent)
    else:  # nothing to say: a channel may send nothing
        assert sent in ([expected], []), (brief(body), sent)
    tally(f"{len(sent)} stored")
    server.assert_healthy(body)
