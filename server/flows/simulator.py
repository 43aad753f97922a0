"""Run a flow in-process, with no server and no database: the engine, a clock and a terminal.

The simulator plays the runtime's part: it answers the effects the engine asks for (messages are
accepted at once, HTTP requests are performed or answered from a recording, timers are kept in a
table) and feeds the answers back as events. Time comes from the simulator's own clock, which only
moves when a customer writes or a timer is fired on purpose.

Scripts that drive a simulation and check its replies are in ``server.flows.script``.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

from server.engine import Execution, compile_flow, new_context, step
from server.engine import effects as fx
from server.engine.events import Event, InboundMessage, Result, TimerFired
from server.engine.execution import ACTIVE
from server.flows.loader import flow_sid
from server.model import Choice, ChoicesPart, new_id, text_of
from server.runtime.trigger_fields import message_start
from widgets import REGISTRY

HTTP_TIMEOUT = 10.0  # Studio's limit for HTTP calls
SECONDS_PER_MESSAGE = 1.0  # how far the clock moves each time the customer writes


class SimulationError(RuntimeError):
    """The simulation cannot do what was asked (no timer to fire, for example)."""


@dataclass(frozen=True, slots=True)
class BotReply:
    text: str
    choices: tuple[Choice, ...] = ()
    media_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Note:
    """Something the flow did that is not a message: a timer set, an HTTP call, the end."""

    text: str


Output = BotReply | Note


@dataclass(frozen=True, slots=True)
class RecordedResponse:
    """A canned answer for the next HTTP request, instead of calling the network."""

    status: int
    body: str = ""
    content_type: str = "text/plain"

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> RecordedResponse:
        """``{"status": 200, "json": {...}}`` or ``{"status": 500, "body": "..."}``."""
        status = spec.get("status", 200)
        if not isinstance(status, int):
            raise ValueError("status must be an integer")
        if "json" in spec:
            return cls(status, json.dumps(spec["json"]), "application/json")
        return cls(status, str(spec.get("body", "")), str(spec.get("content_type", "text/plain")))


class Simulator:
    def __init__(
        self,
        definition: dict[str, Any],
        *,
        name: str,
        customer_address: str = "+15550001111",
        flow_address: str = "+15550002222",
        now: float | None = None,
    ) -> None:
        self.flow = compile_flow(definition, REGISTRY, sid=flow_sid(name), name=name)
        self.customer_address = customer_address
        self.flow_address = flow_address
        self.now = time.time() if now is None else now
        self.epoch = self.now
        self.execution: Execution | None = None
        self.timers: dict[str, float] = {}
        self.recorded: deque[RecordedResponse] = deque()
        self.offered: tuple[Choice, ...] = ()
        self._outputs: list[Output] = []

    @property
    def active(self) -> bool:
        return self.execution is not None and self.execution.status == ACTIVE

    def record_http(self, response: RecordedResponse) -> None:
        self.recorded.append(response)

    def customer_says(self, text: str) -> list[Output]:
        self.now += SECONDS_PER_MESSAGE
        message = self._inbound(text)
        if self.active:
            self._feed(InboundMessage(message, self.now))
        else:
            self.execution = self._new_execution()
            self._note(f"execution {self.execution.id} started")
            # The simulated customer writes by SMS; a flow wired only for Conversations
            # (incomingConversationMessage) starts as it would on a number attached to it.
            conversation = {
                "id": f"CV{self.execution.id[2:]}",
                "channel": "sms",
                "customer_address": self.customer_address,
            }
            message_id = str(message.get("MessageSid") or "")
            self._feed(message_start(self.flow, conversation, message_id, message, self.now))
        return self._take_outputs()

    def fire_timeout(self) -> list[Output]:
        if not self.timers:
            raise SimulationError("no timer is pending")
        timer_id, due_at = min(self.timers.items(), key=lambda item: item[1])
        del self.timers[timer_id]
        self.now = max(self.now, due_at)
        self._note(f"timer fired at +{self.now - self.epoch:g} s on the simulated clock")
        self._feed(TimerFired(timer_id, self.now))
        return self._take_outputs()

    def _inbound(self, text: str) -> dict[str, Any]:
        message = {
            "Body": text,
            "From": self.customer_address,
            "To": self.flow_address,
            "MessageSid": new_id("SM"),
        }
        # A number answers the choices last offered, as on SMS where buttons become a list.
        # isdecimal(), not isdigit(): int() refuses "²"; and it refuses more than 4,300 digits
        # (both raised ValueError; found by tests/fuzz).
        number = text.strip()
        if number.isdecimal() and len(number) <= 9 and 1 <= int(number) <= len(self.offered):
            choice = self.offered[int(number) - 1]
            message.update(Body=choice.label, ButtonText=choice.label, ButtonPayload=choice.id)
        self.offered = ()
        return message

    def _new_execution(self) -> Execution:
        execution_id = new_id("FN")
        context = new_context(
            flow_sid=self.flow.sid,
            execution_id=execution_id,
            customer_address=self.customer_address,
            flow_address=self.flow_address,
        )
        self.timers.clear()
        return Execution(
            id=execution_id,
            flow_sid=self.flow.sid,
            flow_version=self.flow.version,
            conversation_id=None,
            contact_id=None,
            started_at=self.now,
            context=context,
        )

    def _feed(self, event: Event) -> None:
        # All effects of one step are performed before any answer is fed back, as the runtime
        # does, so a timer is never started after the widget that set it has moved on.
        events: deque[Event] = deque([event])
        while events and self.execution is not None:
            current = events.popleft()
            result = step(self.flow, self.execution, current)
            self.execution = result.execution
            if not result.handled:
                self._note(f"{type(current).__name__} ignored in state {result.execution.state!r}")
                continue
            for effect in result.effects:
                answer = self._perform(effect)
                if answer is not None:
                    events.append(answer)

    def _perform(self, effect: fx.Effect) -> Event | None:
        if isinstance(effect, fx.SendMessage):
            choices = next((p.choices for p in effect.parts if isinstance(p, ChoicesPart)), ())
            self.offered = choices or self.offered
            self._outputs.append(BotReply(text_of(effect.parts), choices, effect.media_urls))
            return Result(effect.request_id, self.now, ok=True, data={"message_id": new_id("SM")})
        if isinstance(effect, fx.StartTimer):
            self.timers[effect.timer_id] = effect.due_at
            self._note(f"timer set: fires in {effect.due_at - self.now:g} s")
            return None
        if isinstance(effect, fx.CancelTimer):
            self.timers.pop(effect.timer_id, None)
            return None
        if isinstance(effect, fx.HttpRequest):
            return self._http(effect)
        if isinstance(effect, fx.EndExecution):
            self.timers.clear()
            self._note(f"execution {effect.status}: {effect.reason}")
            return None
        if isinstance(effect, fx.SetConversationAttributes):
            self._note(f"conversation attributes set: {json.dumps(effect.attributes)}")
            return None
        # Functions, subflows, agents and plug-ins need a running server: answer as failed so
        # the flow's failure branch can be exercised.
        self._note(f"{type(effect).__name__} is not available in the simulator: answered failed")
        return Result(effect.request_id, self.now, ok=False, error="not available in simulator")

    def _http(self, request: fx.HttpRequest) -> Result:
        if self.recorded:
            recorded = self.recorded.popleft()
            self._note(f"HTTP {request.method} {request.url} -> {recorded.status} (recorded)")
            data = {
                "status_code": recorded.status,
                "content_type": recorded.content_type,
                "body": recorded.body,
            }
            return Result(request.request_id, self.now, ok=True, data=data)
        headers = dict(request.headers)
        if request.body is not None and request.content_type:
            headers.setdefault("Content-Type", request.content_type)
        try:
            response = httpx.request(
                request.method,
                request.url,
                headers=headers,
                content=request.body,
                timeout=min(request.timeout, HTTP_TIMEOUT),
            )
        except httpx.HTTPError as error:
            self._note(f"HTTP {request.method} {request.url} failed: {error}")
            return Result(request.request_id, self.now, ok=False, error=str(error))
        self._note(f"HTTP {request.method} {request.url} -> {response.status_code}")
        data = {
            "status_code": response.status_code,
            "content_type": response.headers.get("content-type", ""),
            "body": response.text,
        }
        return Result(request.request_id, self.now, ok=True, data=data)

    def _note(self, text: str) -> None:
        self._outputs.append(Note(text))

    def _take_outputs(self) -> list[Output]:
        outputs, self._outputs = self._outputs, []
        return outputs
