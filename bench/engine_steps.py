"""Scenario 4: flow engine steps per second on one core, no I/O.

Threadline compiles each flow version once (templates parsed once, transitions in a dict). The
baseline, in the same run, is the same engine with every template parsed again on each render,
which is what a naive interpreter of Studio flows does.
"""

from __future__ import annotations

import time
from typing import Any

import widgets
from bench.common import Figure
from server.engine import Execution, compile_flow, new_context, step
from server.engine.events import Start
from server.engine.flow import CompiledFlow, CompiledState
from server.engine.templates import ENV, CompiledTemplate

CHAIN = 40  # widgets per execution: 20 set-variables + 20 splits


def chain_flow() -> dict[str, Any]:
    states: list[dict[str, Any]] = [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [{"event": "incomingMessage", "next": "set_0"}],
            "properties": {},
        }
    ]
    for i in range(CHAIN // 2):
        last = i == CHAIN // 2 - 1
        states.append(
            {
                "name": f"set_{i}",
                "type": "set-variables",
                "transitions": [{"event": "next", "next": f"split_{i}"}],
                "properties": {
                    "variables": [
                        {"key": f"v{i}", "value": "{{trigger.message.Body | upcase}}-" + str(i)},
                        {
                            "key": "count",
                            "value": "{{flow.variables.count | default: 0 | plus: 1}}",
                        },
                    ]
                },
            }
        )
        states.append(
            {
                "name": f"split_{i}",
                "type": "split-based-on",
                "transitions": [
                    {"event": "noMatch", "next": "" if last else f"set_{i + 1}"},
                    {
                        "event": "match",
                        "next": "" if last else f"set_{i + 1}",
                        "conditions": [
                            {
                                "friendly_name": "starts",
                                "arguments": [f"{{{{flow.variables.v{i}}}}}"],
                                "type": "starts_with",
                                "value": "HELLO",
                            }
                        ],
                    },
                ],
                "properties": {"input": f"{{{{flow.variables.v{i}}}}}"},
            }
        )
    return {"description": "bench", "initial_state": "Trigger", "flags": {}, "states": states}


class ParseEachTime(CompiledTemplate):
    """A template that is parsed again on every render: the baseline."""

    def render(self, context: Any) -> str:
        return ENV.from_string(self.source).render(**context)


def _uncompiled(value: Any) -> Any:
    if isinstance(value, CompiledTemplate):
        return ParseEachTime(value.source)
    if isinstance(value, dict):
        return {k: _uncompiled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_uncompiled(v) for v in value]
    return value


def baseline_flow(flow: CompiledFlow) -> CompiledFlow:
    states = {
        name: CompiledState(s.name, s.type, s.widget, _uncompiled(s.properties), s.templated)
        for name, s in flow.states.items()
    }
    return CompiledFlow(
        flow.sid,
        flow.name,
        flow.version,
        flow.definition,
        flow.initial_state,
        states,
        flow.next_states,
        flow.machine,
        flow.trigger_events,
    )


def steps_per_second(flow: CompiledFlow, seconds: float) -> float:
    steps = 0
    started = time.perf_counter()
    n = 0
    while time.perf_counter() - started < seconds:
        n += 1
        execution = Execution(
            id=f"FN{n}",
            flow_sid=flow.sid,
            flow_version=1,
            conversation_id="CV1",
            contact_id="CT1",
            started_at=0.0,
            context=new_context(flow_sid=flow.sid, execution_id=f"FN{n}"),
        )
        result = step(flow, execution, Start("incomingMessage", 1.0, message={"Body": "hello"}))
        assert result.execution.status == "ended", result.execution.ended_reason
        steps += len(result.steps)
    return steps / (time.perf_counter() - started)


def run(quick: bool) -> list[Figure]:
    seconds = 1.0 if quick else 5.0
    flow = compile_flow(chain_flow(), widgets.REGISTRY, sid="FWbench", name="bench")
    steps_per_second(flow, 0.2)  # warm up
    compiled = steps_per_second(flow, seconds)
    naive = steps_per_second(baseline_flow(flow), seconds)
    return [
        Figure(
            "engine_steps",
            "steps/s/core",
            compiled,
            baseline=naive,
            baseline_label="same engine, templates parsed on every render",
            target=">= 50,000 steps/s/core",
        )
    ]
