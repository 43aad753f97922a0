"""Liquid templates as Studio uses them, compiled once per flow version.

Studio renders every string property of a widget with Liquid before the widget runs. A flow's
properties are walked once at compile time: strings holding Liquid markup become compiled
templates, everything else stays a constant, so rendering at run time parses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from liquid import Environment
from liquid.exceptions import LiquidError


def _to_json(value: object) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


class StudioEnvironment(Environment):
    # Studio caps loops; a template can never run away with the worker.
    loop_iteration_limit = 10_000
    output_stream_limit = 64 * 1024


ENV = StudioEnvironment()
ENV.filters["to_json"] = _to_json

MARKUP = ("{{", "{%")


class CompiledTemplate:
    __slots__ = ("source", "template")

    def __init__(self, source: str) -> None:
        self.source = source
        self.template = ENV.from_string(source)

    def render(self, context: Mapping[str, Any]) -> str:
        try:
            return self.template.render(**context)
        except LiquidError:
            # Studio renders a broken expression as empty rather than failing the widget;
            # validation reports syntax errors before a flow is ever published.
            return ""


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
