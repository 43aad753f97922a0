"""The sans-IO engine: ``step(flow, execution, event) -> StepResult``.

No awaits, no clock, no database: the event brings the time, the result carries effects for the
runtime to perform. Applying the same events to the same execution always gives the same result,
which is what makes executions replayable after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from server.engine import effects as fx
from server.engine.events import Event, Start, TimerFired
from server.engine.execution import ACTIVE, ENDED, FAILED, Execution, StepLog
from server.engine.flow import CompiledFlow, CompiledState, event_name
from server.engine.templates import render_value
from server.engine.widget import WidgetCall, WidgetResult

MAX_STEPS = 1000  # Studio's limit per execution
MAX_REPEATS = 10  # Studio stops an execution that enters the same widget 10 times in a row


@dataclass(frozen=True, slots=True)
class StepResult:
    execution: Execution
    effects: tuple[fx.Effect, ...]
    steps: tuple[StepLog, ...]
    handled: bool = True  # False: the event was stale or not for the current widget


def new_context(
    *,
    flow_sid: str,
    execution_id: str,
    customer_address: str = "",
    flow_address: str = "",
    contact: dict[str, Any] | None = None,
    conversation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Liquid namespaces Studio defines, plus Threadline's ``contact`` and ``conversation``."""
    contact_ns = {"channel": {"address": customer_address}, "attributes": {}}
    contact_ns.update(contact or {})
    return {
        "trigger": {},
        "flow": {
            "flow_sid": flow_sid,
            "sid": execution_id,
            "variables": {},
            "data": {},
            "channel": {"address": flow_address},
        },
        "widgets": {},
        "contact": contact_ns,
        "conversation": conversation or {},
    }


class _Run:
    """Mutable scratch state for one ``step`` call; the input execution is never mutated."""

    def __init__(self, flow: CompiledFlow, execution: Execution, at: float) -> None:
        self.flow = flow
        self.execution = execution
        self.at = at
        ctx = execution.context
        flow_ns = dict(ctx.get("flow", {}))
        flow_ns["variables"] = dict(flow_ns.get("variables", {}))
        self.context: dict[str, Any] = {
            **ctx,
            "flow": flow_ns,
            "widgets": dict(ctx.get("widgets", {})),
        }
        self.effects: list[fx.Effect] = []
        self.steps: list[StepLog] = []
        self.state = execution.state or flow.initial_state
        self.step_count = execution.step_count
        self.repeat_count = execution.repeat_count
        self.waiting: dict[str, Any] = dict(execution.waiting)
        self.status = execution.status
        self.ended_reason: str | None = execution.ended_reason

    def call(self, state: CompiledState) -> WidgetCall:
        if not state.templated:
            props = state.properties
        elif state.render is not None:
            props = state.render(self.context)
        else:
            props = render_value(state.properties, self.context)
        return WidgetCall(
            name=state.name,
            props=props,
            execution_id=self.execution.id,
            step=self.step_count,
            at=self.at,
            context=self.context,
            waiting=self.waiting,
        )

    def end(self, status: str, reason: str) -> None:
        self.status = status
        self.ended_reason = reason
        self.waiting = {}
        self.effects.append(fx.EndExecution(status, reason))

    def apply(self, result: WidgetResult, cause: Event | None) -> None:
        """Apply widget results and follow transitions until a widget waits or the run ends."""
        while True:
            if result.outputs is not None:
                widgets = self.context["widgets"]
                widgets[self.state] = {**widgets.get(self.state, {}), **result.outputs}
            if result.variables:
                self.context["flow"]["variables"].update(result.variables)
            self.effects.extend(result.effects)
            if result.transition is None:
                self.waiting = dict(result.waiting or {})
                return
            self.leave_waiting(cause)
            cause = None
            wired, target = self.flow.next_state(self.state, result.transition)
            self.steps.append(
                StepLog(
                    seq=self.step_count,
                    from_state=self.state,
                    event=event_name(result.transition),
                    to_state=target,
                    at=self.at,
                    outputs=result.outputs,
                )
            )
            if target is None:
                why = "transition" if wired else "unwired event"
                label = event_name(result.transition)
                self.end(ENDED, f"{self.state}.{label}: end of flow ({why})")
                return
            self.step_count += 1
            self.repeat_count = self.repeat_count + 1 if target == self.state else 1
            if self.step_count >= MAX_STEPS:
                self.end(FAILED, f"step limit of {MAX_STEPS} reached at {target!r}")
                return
            if self.repeat_count >= MAX_REPEATS:
                self.end(FAILED, f"widget {target!r} entered {MAX_REPEATS} times in a row")
                return
            self.state = target
            state = self.flow.states[target]
            result = state.widget.enter(self.call(state))

    def leave_waiting(self, cause: Event | None) -> None:
        # Leaving a widget that armed a timer cancels it, unless that timer is what fired.
        timer_id = self.waiting.get("timer_id")
        if timer_id and not (isinstance(cause, TimerFired) and cause.timer_id == timer_id):
            self.effects.append(fx.CancelTimer(timer_id))
        self.waiting = {}

    def result(self, handled: bool = True) -> StepResult:
        execution = replace(
            self.execution,
            status=self.status,
            state=self.state,
            waiting=self.waiting,
            context=self.context,
            step_count=self.step_count,
            repeat_count=self.repeat_count,
            updated_at=self.at,
            ended_reason=self.ended_reason,
        )
        return StepResult(execution, tuple(self.effects), tuple(self.steps), handled)


def _start_context(context: dict[str, Any], event: Start) -> None:
    if event.message is not None and event.trigger == "incomingConversationMessage":
        # Studio fills ``trigger.conversation`` (ConversationSid, Body, Author, ...) for
        # messages that arrive through a conversation. ``trigger.message`` gets the same
        # fields: flows that wire both message events to one widget (Threadline's own do)
        # read ``trigger.message.Body`` whichever fired; Studio would leave it empty.
        context["trigger"] = {
            "conversation": dict(event.message),
            "message": dict(event.message),
        }
    elif event.message is not None:
        context["trigger"] = {"message": dict(event.message)}
    elif event.trigger == "incomingParent":
        context["trigger"] = {"parent": {"parameters": dict(event.parameters)}}
    else:
        context["trigger"] = {"request": {"parameters": dict(event.parameters)}}
    if event.data:
        context["flow"]["data"] = dict(event.data)


def step(flow: CompiledFlow, execution: Execution, event: Event) -> StepResult:
    if execution.status != ACTIVE:
        return StepResult(execution, (), (), handled=False)
    run = _Run(flow, execution, event.at)
    if isinstance(event, Start):
        if execution.step_count or execution.state not in (None, flow.initial_state):
            return StepResult(execution, (), (), handled=False)
        run.state = flow.initial_state
        _start_context(run.context, event)
    state = flow.states[run.state]
    result = state.widget.resume(run.call(state), event)
    if result is None:
        return StepResult(execution, (), (), handled=False)
    run.apply(result, event)
    return run.result()
