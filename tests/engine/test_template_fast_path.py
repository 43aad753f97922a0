"""Plain ``{{ a.b }}`` templates render by look-up; the result must equal Liquid's own."""

from __future__ import annotations

from typing import Any

import pytest

from server.engine.templates import ENV, CompiledTemplate

CONTEXT: dict[str, Any] = {
    "flow": {"variables": {"name": "Ada", "count": 3, "ratio": 0.5, "ok": True, "no": False}},
    "trigger": {"message": {"Body": "hi there", "Empty": ""}},
    "widgets": {"w": {"parsed": {"items": [1, 2], "limit": "10", "in-stock": "yes"}}},
}

SOURCES = [
    "{{flow.variables.name}}",
    "Hi {{ flow.variables.name }}, you said '{{trigger.message.Body}}'.",
    "{{flow.variables.count}} / {{flow.variables.ratio}}",
    "{{flow.variables.ok}} {{flow.variables.no}}",
    "[{{flow.variables.missing}}] [{{nothing.at.all}}] [{{trigger.message.Empty}}]",
    "{{widgets.w.parsed.items}}",  # a list: rendered by Liquid
    "{{widgets.w.parsed.items.size}}",  # a Liquid property of a list
    "{{widgets.w.parsed.limit}} {{widgets.w.parsed.in-stock}}",
]


@pytest.mark.parametrize("source", SOURCES)
def test_fast_path_renders_like_liquid(source: str) -> None:
    compiled = CompiledTemplate(source)
    assert compiled.parts is not None  # these all take the look-up path (or fall back from it)
    assert compiled.render(CONTEXT) == ENV.from_string(source).render(**CONTEXT)


@pytest.mark.parametrize(
    "source",
    ["{{ name | upcase }}", "{% if x %}y{% endif %}", "{{- name -}}", "{{ true }}", "{{ nil }}"],
)
def test_anything_else_goes_to_liquid(source: str) -> None:
    assert CompiledTemplate(source).parts is None
