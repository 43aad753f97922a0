"""The sans-IO router: ``Router.handle(event) -> [effects]``.

No clock, no I/O: the time comes in each event, and offers, timers and records go out as effects
for the runtime to perform. ``Router.to_dict()``/``Router.from_dict()`` persist and rebuild it.

Invariants: a task is reserved for at most one agent at a time (``task.agent_id``); an agent's
``used`` slots count its offers and assigned tasks per channel, never beyond its capacity except
by a supervisor's ``Reassign``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.engine.events import TimerFired
from server.routing import effects as fx
from server.routing import events as ev
from server.routing.config import AVAILABLE, OFFLINE, RoutingConfig, Step
from server.routing.expressions import Expression, compile_expression
from server.routing.index import AgentPools, WaitingTasks
from server.routing.state import (
    ASSIGNED,
    OFFERED,
    STICKY,
    WAITING,
    WRAPUP,
    Agent,
    RoutingState,
    Task,
)
from server.routing.stats import QueuePosition, add_sample, estimate_position

STRATEGY_LABELS = {
    "longest_idle": "longest idle",
    "least_busy": "least busy",
    "round_robin": "round robin",
}


class RoutingError(ValueError):
    """An event the router cannot apply (unknown agent, queue, workflow or activity)."""


class Router:
    def __init__(self, config: RoutingConfig | None = None, state: RoutingState | None = None):
        self.config = config or RoutingConfig.from_dict({})
        self.state = state or RoutingState()
        self.pools = AgentPools(self.config)
        self.waiting = WaitingTasks()
        self.holds: dict[str, list[str]] = {}  # sticky agent -> tasks held for them
        self._expressions: dict[str, Expression] = {}
        self._out: list[fx.RoutingEffect] = []
        for agent in self.state.agents.values():
            self.pools.set_membership(agent)
            self.pools.update(agent)
        for task in self.state.tasks.values():
            if task.status == WAITING:
                self.waiting.add(task)
            elif task.status == STICKY and task.held_for:
                self.holds.setdefault(task.held_for, []).append(task.task_id)
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.AgentConnected: self._agent_connected,
            ev.AgentDisconnected: self._agent_disconnected,
            ev.SetAvailability: self._set_availability,
            ev.TaskCreated: self._task_created,
            ev.OfferAccepted: self._offer_accepted,
            ev.OfferRejected: self._offer_rejected,
            TimerFired: self._timer_fired,
            ev.WrapUp: self._wrap_up,
            ev.CloseTask: self._close_task,
            ev.Transfer: self._transfer,
            ev.Reassign: self._reassign,
        }

    # -- public API ----------------------------------------------------------------------------

    def handle(self, event: ev.RoutingEvent) -> list[fx.RoutingEffect]:
        self._out = []
        self._handlers[type(event)](event)
        return self._out

    def position(self, task_id: str) -> QueuePosition | None:
        """Position in queue and estimated wait of a waiting task (None if it is not waiting)."""
        task = self.state.tasks.get(task_id)
        place = self.waiting.position(task) if task else None
        if task is None or place is None:
            return None
        return estimate_position(
            self.config, self.state, task.queue, place, self.present_count(task.queue)
        )

    def present_count(self, queue: str) -> int:
        """Agents of ``queue`` online and routable, plus those within their reconnect grace.

        An agent in its grace period is expected back (a dropped socket, a server restart):
        a hand-off then waits for them rather than answering ``no_agents`` at once.
        """
        online = self.pools.online_count(queue)
        if online:
            return online
        return sum(1 for agent in self.state.agents.values() if self._returning(agent, queue))

    def _returning(self, agent: Agent, queue: str) -> bool:
        return (
            not agent.connected
            and agent.grace_timer is not None
            and self.config.is_routable(agent.activity)
            and queue in self.pools.queues_of(agent.agent_id)
        )

    def to_dict(self) -> dict[str, Any]:
        return self.state.to_dict()

    @classmethod
    def from_dict(cls, data: dict[str, Any], config: RoutingConfig | None = None) -> Router:
        return cls(config, RoutingState.from_dict(data))

    # -- agents --------------------------------------------------------------------------------

    def _agent_connected(self, e: ev.AgentConnected) -> None:
        agent = self.state.agents.get(e.agent_id)
        if agent is None:
            activity = e.activity or AVAILABLE
            self._check_activity(activity)
            agent = Agent(
                e.agent_id,
                dict(e.attributes or {}),
                dict(e.capacity or self.config.default_capacity),
                activity,
                last_idle_at=e.at,
            )
            self.state.agents[e.agent_id] = agent
            self._emit(fx.AgentStateChanged(agent.agent_id, activity, e.at, "connected"))
        else:
            if e.attributes is not None:
                agent.attributes = dict(e.attributes)
            if e.capacity is not None:
                agent.capacity = dict(e.capacity)
            if agent.grace_timer:
                self._emit(fx.CancelTimer(agent.grace_timer))
                agent.grace_timer = None
                for task_id in agent.tasks:
                    self._record(
                        self.state.tasks[task_id],
                        e.at,
                        "agent_reconnected",
                        "agent reconnected within the grace period",
                        agent.agent_id,
                    )
            agent.connected = True
            if e.activity:
                self._check_activity(e.activity)
            activity = e.activity or (AVAILABLE if agent.activity == OFFLINE else agent.activity)
            self._change_activity(agent, activity, e.at, "connected")
        self.pools.set_membership(agent)
        self.pools.update(agent)
        self._fill_agent(agent, e.at)

    def _agent_disconnected(self, e: ev.AgentDisconnected) -> None:
        agent = self._agent(e.agent_id)
        if not agent.connected:
            return
        agent.connected = False
        agent.disconnects += 1
        agent.grace_timer = f"grace:{agent.agent_id}:{agent.disconnects}"
        self._emit(fx.StartTimer(agent.grace_timer, e.at + self.config.disconnect_grace))
        self.pools.update(agent)
        self._emit(fx.AgentStateChanged(agent.agent_id, agent.activity, e.at, "disconnected"))
        for task_id in agent.tasks:
            self._record(
                self.state.tasks[task_id],
                e.at,
                "agent_disconnected",
                f"kept for {self.config.disconnect_grace:g} s grace",
                agent.agent_id,
            )
        for task_id in list(agent.offers):
            self._withdraw_offer(self.state.tasks[task_id], e.at, "agent disconnected")

    def _grace_expired(self, agent: Agent, at: float) -> None:
        agent.grace_timer = None
        self._change_activity(agent, OFFLINE, at, "disconnect grace period expired")
        for task_id in list(agent.tasks):
            task = self.state.tasks[task_id]
            self._release_assignment(task, agent, at)
            task.seq = self.state.next_front_seq  # the front of its queue, ahead of FIFO order
            self.state.next_front_seq -= 1
            task.queued_at = at
            reason = "agent did not reconnect within the grace period"
            self._emit(fx.Requeued(task.task_id, task.queue, agent.agent_id, True, reason))
            self._record(task, at, "requeued", reason + ", at the front", agent.agent_id)
            self._route_task(task, at)
        for task in [t for t in self.state.tasks.values() if t.status == WRAPUP]:
            if task.agent_id == agent.agent_id:
                self._finish(task, at, task.disposition, "system")
        self.pools.update(agent)
        self._no_longer_expected(agent, at)

    def _no_longer_expected(self, agent: Agent, at: float) -> None:
        """Tasks that waited only because this agent was expected back get ``no_agents`` now,
        as they would have when created, if nobody else is present in their queue."""
        for queue in self.pools.queues_of(agent.agent_id):
            if self.present_count(queue):
                continue
            for task in [t for t in self.state.tasks.values() if t.queue == queue]:
                if task.status == WAITING and not task.wait_when_no_agents:
                    self._remove_unassigned(task, at, "no agent came back")
                    self._record(task, at, "no_agents", f"no agent online in queue {queue}")
                    self._emit(fx.NoAgents(task.task_id, queue, at))

    def _set_availability(self, e: ev.SetAvailability) -> None:
        agent = self._agent(e.agent_id)
        self._check_activity(e.activity)
        self._change_activity(agent, e.activity, e.at, "set by agent")
        self.pools.update(agent)
        if not self._routable(agent):
            for task_id in list(agent.offers):
                self._withdraw_offer(
                    self.state.tasks[task_id], e.at, f"agent activity is {e.activity}"
                )
        self._fill_agent(agent, e.at)

    def _change_activity(self, agent: Agent, activity: str, at: float, reason: str) -> None:
        if activity == agent.activity:
            return
        was_routable = self.config.is_routable(agent.activity)
        agent.activity = activity
        if self.config.is_routable(activity):
            agent.missed_offers = 0
            if not was_routable:
                agent.last_idle_at = at
        self._emit(fx.AgentStateChanged(agent.agent_id, activity, at, reason))

    # -- tasks ---------------------------------------------------------------------------------

    def _task_created(self, e: ev.TaskCreated) -> None:
        if e.task_id in self.state.tasks:
            return  # a redelivered event: the task is already routing
        steps, why = self._resolve_steps(e)
        if e.agent_expression:
            self._expression(e.agent_expression)  # fail now on a bad expression, not per agent
        task = Task(
            e.task_id,
            dict(e.attributes),
            e.channel,
            list(steps),
            e.priority,
            e.at,
            self.state.next_seq,
            contact_id=e.contact_id,
            wait_when_no_agents=e.wait_when_no_agents,
            agent_expression=e.agent_expression,
            timeout_at=e.at + e.timeout if e.timeout else None,
            step_started_at=e.at,
            queued_at=e.at,
        )
        if not e.wait_when_no_agents and self.present_count(task.queue) == 0:
            self._record(task, e.at, "no_agents", f"no agent online in queue {task.queue}")
            self._emit(fx.NoAgents(task.task_id, task.queue, e.at))
            return
        self.state.next_seq += 1
        self.state.tasks[task.task_id] = task
        self._record(task, e.at, "queued", why)
        if task.timeout_at is not None:
            self._emit(fx.StartTimer(f"task:{task.task_id}", task.timeout_at))
        self._start_step_timer(task, e.at)
        note = self._try_sticky(task, e.at)
        if task.status == WAITING:
            self._route_task(task, e.at, note)

    def _resolve_steps(self, e: ev.TaskCreated) -> tuple[tuple[Step, ...], str]:
        if e.queue is not None:
            if e.queue not in self.config.queues:
                raise RoutingError(f"unknown queue {e.queue!r}")
            return (Step(e.queue),), f"queue {e.queue} requested"
        name = e.workflow or self.config.default_workflow
        workflow = self.config.workflows.get(name)
        if workflow is None:
            raise RoutingError(f"unknown workflow {name!r}")
        filter_name, steps = workflow.steps_for({"channel": e.channel, **e.attributes})
        return steps, f"workflow {name}, filter {filter_name}, queue {steps[0].queue}"

    def _try_sticky(self, task: Task, at: float) -> str:
        """Offer to (or hold for) the contact's last agent; returns a note for the record."""
        window = self.config.sticky.window
        last = self.state.last_agent_by_contact.get(task.contact_id or "")
        if not task.contact_id or window <= 0 or last is None:
            return ""
        agent_id, served_at = last
        if at - served_at > window:
            del self.state.last_agent_by_contact[task.contact_id]
            return "sticky agent window expired"
        agent = self.state.agents.get(agent_id)
        if agent is None or task.queue not in self.pools.queues_of(agent_id):
            return "sticky agent not in queue"
        if not self._eligible(task, agent):
            return "sticky agent not eligible"
        if self._routable(agent) and agent.free(task.channel) > 0:
            self._offer(
                task, agent, at, f"sticky agent (served this contact {at - served_at:g} s ago)"
            )
            return ""
        if self.config.sticky.wait > 0 and agent.connected:
            task.status, task.held_for = STICKY, agent_id
            self.holds.setdefault(agent_id, []).append(task.task_id)
            self._emit(fx.StartTimer(f"sticky:{task.task_id}", at + self.config.sticky.wait))
            self._record(
                task,
                at,
                "held_for_sticky_agent",
                f"waiting up to {self.config.sticky.wait:g} s for a busy sticky agent",
                agent_id,
            )
            return ""
        return "sticky agent unavailable"

    def _offer_accepted(self, e: ev.OfferAccepted) -> None:
        task = self._offered_task(e.task_id, e.agent_id)
        if task is None:
            return
        agent = self.state.agents[e.agent_id]
        self._emit(fx.CancelTimer(self._offer_timer(task)))
        self._cancel_waiting_timers(task)
        agent.offers.remove(task.task_id)
        agent.tasks.append(task.task_id)
        agent.missed_offers = 0
        task.status, task.accepted_at, task.timed_out_by = ASSIGNED, e.at, None
        task.offer_expires_at = None
        add_sample(
            self.state.wait_times, task.queue, e.at - task.queued_at, self.config.stats_window
        )
        if task.contact_id:
            self.state.last_agent_by_contact[task.contact_id] = [agent.agent_id, e.at]
        self._emit(fx.Assigned(task.task_id, agent.agent_id, e.at, task.queue))
        self._record(task, e.at, "accepted", "agent accepted the offer", agent.agent_id)

    def _offer_rejected(self, e: ev.OfferRejected) -> None:
        task = self._offered_task(e.task_id, e.agent_id)
        if task is None:
            return
        agent = self.state.agents[e.agent_id]
        self._emit(fx.CancelTimer(self._offer_timer(task)))
        self._release_offer(task, agent)
        agent.missed_offers = 0
        task.rejected_by.append(agent.agent_id)
        self._record(task, e.at, "rejected", e.reason or "agent rejected the offer", agent.agent_id)
        self._route_task(task, e.at, "previous agent rejected")
        self._fill_agent(agent, e.at)

    def _offer_timed_out(self, task: Task, at: float) -> None:
        agent = self.state.agents[task.agent_id or ""]
        self._emit(fx.RescindOffer(task.task_id, agent.agent_id, "offer timed out"))
        self._release_offer(task, agent)
        agent.missed_offers += 1
        task.timed_out_by = agent.agent_id
        self._record(
            task, at, "offer_timeout", f"no answer ({agent.missed_offers} in a row)", agent.agent_id
        )
        if agent.missed_offers >= self.config.max_missed_offers:
            reason = f"{agent.missed_offers} offers timed out in a row"
            self._change_activity(agent, self.config.not_responding_activity, at, reason)
            self.pools.update(agent)
            for task_id in list(agent.offers):
                self._withdraw_offer(self.state.tasks[task_id], at, "agent not responding")
        self._route_task(task, at, "previous offer timed out")
        self._fill_agent(agent, at)

    def _timer_fired(self, e: TimerFired) -> None:
        kind, _, rest = e.timer_id.partition(":")
        if kind == "grace":
            agent = self.state.agents.get(rest.rpartition(":")[0])
            if agent is not None and agent.grace_timer == e.timer_id and not agent.connected:
                self._grace_expired(agent, e.at)
            return
        task_id, _, number = rest.rpartition(":") if kind in ("offer", "step") else (rest, "", "")
        task = self.state.tasks.get(task_id)
        if task is None:
            return  # stale: the task was closed or timed out
        if kind == "offer" and task.status == OFFERED and str(task.offers_made) == number:
            self._offer_timed_out(task, e.at)
        elif kind == "step" and str(task.step_index) == number and task.status != ASSIGNED:
            self._widen(task, e.at)
        elif kind == "sticky" and task.status == STICKY:
            self._release_hold(task)
            self._record(
                task,
                e.at,
                "sticky_wait_expired",
                "sticky agent did not free up in time",
                task.held_for,
            )
            task.held_for = None
            self._route_task(task, e.at, "sticky agent busy")
        elif kind == "task" and task.status in (WAITING, STICKY, OFFERED):
            self._remove_unassigned(task, e.at, "task timed out")
            self._record(task, e.at, "timed_out", "no agent accepted within the task timeout")
            self._emit(fx.TaskTimedOut(task.task_id, e.at))

    def _widen(self, task: Task, at: float) -> None:
        if task.step_index + 1 >= len(task.steps) or task.status == WRAPUP:
            return  # the last step keeps the task until its own timeout
        old = task.step
        task.step_index += 1
        task.step_started_at = at
        self._record(
            task,
            at,
            "widened",
            f"no agent in queue {old.queue} after {old.timeout:g} s, now queue {task.queue}",
        )
        self._start_step_timer(task, at)
        if task.status == WAITING:
            self.waiting.remove(task.task_id)
            self._route_task(task, at)

    def _wrap_up(self, e: ev.WrapUp) -> None:
        task = self.state.tasks.get(e.task_id)
        if task is None or task.status != ASSIGNED:
            return
        agent = self.state.agents[task.agent_id or ""]
        self._release_assignment(task, agent, e.at, finished=True)
        task.status, task.agent_id, task.disposition = WRAPUP, agent.agent_id, e.disposition
        self._emit(fx.WrapUpStarted(task.task_id, agent.agent_id, e.disposition))
        self._record(task, e.at, "wrapup", e.disposition or "wrap-up", agent.agent_id)
        self.pools.update(agent)
        self._fill_agent(agent, e.at)

    def _close_task(self, e: ev.CloseTask) -> None:
        task = self.state.tasks.get(e.task_id)
        if task is not None:
            self._finish(task, e.at, e.disposition or task.disposition, e.by)

    def _finish(self, task: Task, at: float, disposition: str, by: str) -> None:
        agent_id = task.agent_id
        self.state.tasks.pop(task.task_id, None)
        if task.status == ASSIGNED:
            agent = self.state.agents[agent_id or ""]
            self._release_assignment(task, agent, at, finished=True)
            self.pools.update(agent)
            self._fill_agent(agent, at)
        elif task.status != WRAPUP:
            self._remove_unassigned(task, at, "task closed")
        self._emit(fx.TaskClosed(task.task_id, agent_id, at, disposition, by))
        self._record(
            task, at, "closed", f"{disposition or 'closed'} by {by or 'unknown'}", agent_id
        )

    def _transfer(self, e: ev.Transfer) -> None:
        task = self.state.tasks.get(e.task_id)
        fail = self._transfer_problem(task, e)
        if task is None or fail:
            self._emit(fx.TransferFailed(e.task_id, fail or "unknown task"))
            return
        old = self.state.agents[task.agent_id or ""]
        self._release_assignment(task, old, e.at)
        task.rejected_by.append(old.agent_id)  # never bounce the task back to who sent it away
        if e.note:
            task.notes.append(e.note)
        by = f" by {e.by}" if e.by else ""
        if e.to_agent:
            self._record(
                task, e.at, "transferred", f"to agent {e.to_agent}{by}: {e.note}", old.agent_id
            )
            self._offer(task, self.state.agents[e.to_agent], e.at, f"transfer from {old.agent_id}")
        else:
            queue = e.to_queue or ""
            task.steps, task.step_index, task.step_started_at = [Step(queue)], 0, e.at
            task.queued_at = e.at
            self._emit(fx.Requeued(task.task_id, queue, old.agent_id, False, f"transfer{by}"))
            self._record(task, e.at, "transferred", f"to queue {queue}{by}: {e.note}", old.agent_id)
            self._route_task(task, e.at)
        self.pools.update(old)
        self._fill_agent(old, e.at)

    def _transfer_problem(self, task: Task | None, e: ev.Transfer) -> str:
        if task is None or task.status != ASSIGNED:
            return "task is not assigned"
        if bool(e.to_agent) == bool(e.to_queue):
            return "give exactly one of to_agent and to_queue"
        if e.to_queue:
            return "" if e.to_queue in self.config.queues else f"unknown queue {e.to_queue!r}"
        target = self.state.agents.get(e.to_agent or "")
        if target is None or target.agent_id == task.agent_id:
            return f"cannot transfer to agent {e.to_agent!r}"
        if not self._routable(target) or target.free(task.channel) <= 0:
            return f"agent {e.to_agent} is not available on {task.channel}"
        return ""

    def _reassign(self, e: ev.Reassign) -> None:
        task = self.state.tasks.get(e.task_id)
        target = self.state.agents.get(e.agent_id)
        if task is None or task.status == WRAPUP or target is None or not target.connected:
            self._emit(fx.TransferFailed(e.task_id, f"cannot reassign to agent {e.agent_id!r}"))
            return
        old = self.state.agents.get(task.agent_id or "") if task.status == ASSIGNED else None
        if old is not None:
            self._release_assignment(task, old, e.at)
            self.pools.update(old)
        else:
            self._remove_unassigned(task, e.at, f"reassigned by {e.by or 'supervisor'}")
            self.state.tasks[task.task_id] = task
        target.used[task.channel] = target.used.get(task.channel, 0) + 1
        target.tasks.append(task.task_id)
        target.last_idle_at = e.at  # new work, as with an offer
        task.status, task.agent_id = ASSIGNED, target.agent_id
        task.accepted_at = task.accepted_at or e.at
        if task.contact_id:
            self.state.last_agent_by_contact[task.contact_id] = [target.agent_id, e.at]
        self.pools.update(target)
        self._emit(fx.Assigned(task.task_id, target.agent_id, e.at, task.queue))
        self._record(task, e.at, "reassigned", f"by {e.by or 'supervisor'}", target.agent_id)
        if old is not None:
            self._fill_agent(old, e.at)

    # -- matching ------------------------------------------------------------------------------

    def _route_task(self, task: Task, at: float, note: str = "") -> None:
        """Offer a waiting task to the best eligible agent of its queue, or leave it waiting."""
        queue = self.config.queues[task.queue]
        fallback: Agent | None = None
        for agent_id in self.pools.candidates(task.queue, task.channel):
            agent = self.state.agents[agent_id]
            if not self._eligible(task, agent):
                continue
            if agent_id == task.timed_out_by:
                fallback = fallback or agent  # re-offer to a silent agent only if nobody else
                continue
            reason = f"{STRATEGY_LABELS[queue.strategy]} in queue {queue.name}"
            self._offer(task, agent, at, f"{reason}, {note}" if note else reason)
            return
        if fallback is not None:
            self._offer(task, fallback, at, f"only eligible agent in queue {queue.name}")
            return
        self.waiting.add(task)
        self._record(
            task,
            at,
            "waiting",
            f"no eligible agent with a free {task.channel} slot in queue {queue.name}",
        )

    def _fill_agent(self, agent: Agent, at: float) -> None:
        """Offer waiting tasks to an agent that gained a free slot, best task first."""
        while self._routable(agent):
            held = [
                self.state.tasks[tid]
                for tid in self.holds.get(agent.agent_id, [])
                if agent.free(self.state.tasks[tid].channel) > 0
            ]
            if held:
                task = held[0]
                self._release_hold(task)
                task.held_for = None
                self._offer(task, agent, at, "sticky agent free again")
                continue
            best: tuple[int, int, str] | None = None
            for queue, channel in self.pools.pools_of(agent.agent_id):
                for entry in self.waiting.line(queue, channel):
                    if best is not None and entry >= best:
                        break
                    if self._eligible(self.state.tasks[entry[2]], agent):
                        best = entry
                        break
            if best is None:
                return
            task = self.state.tasks[best[2]]
            strategy = STRATEGY_LABELS[self.config.queues[task.queue].strategy]
            self._offer(
                task,
                agent,
                at,
                f"agent freed up; highest priority, oldest in queue {task.queue} ({strategy})",
            )

    def _offer(self, task: Task, agent: Agent, at: float, reason: str) -> None:
        self.waiting.remove(task.task_id)
        expires_at = at + self.config.offer_timeout_for(task.queue)
        task.status, task.agent_id, task.offer_expires_at = OFFERED, agent.agent_id, expires_at
        task.offers_made += 1
        agent.used[task.channel] = agent.used.get(task.channel, 0) + 1
        agent.offers.append(task.task_id)
        agent.last_idle_at = at  # the agent just got work: others who waited longer go first
        turn = self.state.round_robin_turns.get(task.queue, 0)
        self.state.round_robin_turns[task.queue] = turn + 1
        agent.round_robin[task.queue] = turn
        self.pools.update(agent)
        self._emit(fx.Offer(task.task_id, agent.agent_id, at, expires_at, reason))
        self._emit(fx.StartTimer(self._offer_timer(task), expires_at))
        self._record(task, at, "offered", reason, agent.agent_id)

    def _eligible(self, task: Task, agent: Agent) -> bool:
        if agent.agent_id in task.rejected_by:
            return False
        for source in (task.step.expression, task.agent_expression):
            if source and not self._expression(source).matches(agent.attributes, task.attributes):
                return False
        return True

    # -- bookkeeping ---------------------------------------------------------------------------

    def _withdraw_offer(self, task: Task, at: float, reason: str) -> None:
        agent = self.state.agents[task.agent_id or ""]
        self._emit(fx.CancelTimer(self._offer_timer(task)))
        self._emit(fx.RescindOffer(task.task_id, agent.agent_id, reason))
        self._release_offer(task, agent)
        self._record(task, at, "offer_rescinded", reason, agent.agent_id)
        self._route_task(task, at, f"previous agent {reason}")

    def _release_offer(self, task: Task, agent: Agent) -> None:
        agent.used[task.channel] -= 1
        agent.offers.remove(task.task_id)
        task.status, task.agent_id, task.offer_expires_at = WAITING, None, None
        self.pools.update(agent)

    def _release_assignment(
        self, task: Task, agent: Agent, at: float, finished: bool = False
    ) -> None:
        agent.used[task.channel] -= 1
        agent.tasks.remove(task.task_id)
        task.status, task.agent_id = WAITING, None
        if finished:
            agent.last_idle_at = at
            if task.accepted_at is not None:
                add_sample(
                    self.state.handle_times,
                    task.queue,
                    at - task.accepted_at,
                    self.config.stats_window,
                )

    def _remove_unassigned(self, task: Task, at: float, reason: str) -> None:
        """Take a waiting, held or offered task out of routing, cancelling its timers."""
        if task.status == OFFERED:
            agent = self.state.agents[task.agent_id or ""]
            self._emit(fx.CancelTimer(self._offer_timer(task)))
            self._emit(fx.RescindOffer(task.task_id, agent.agent_id, reason))
            self._release_offer(task, agent)
            self._fill_agent(agent, at)
        elif task.status == STICKY:
            self._release_hold(task)
        self.waiting.remove(task.task_id)
        self._cancel_waiting_timers(task)
        self.state.tasks.pop(task.task_id, None)

    def _release_hold(self, task: Task) -> None:
        self._emit(fx.CancelTimer(f"sticky:{task.task_id}"))
        self.holds.get(task.held_for or "", []).remove(task.task_id)
        task.status = WAITING

    def _cancel_waiting_timers(self, task: Task) -> None:
        if task.timeout_at is not None:
            self._emit(fx.CancelTimer(f"task:{task.task_id}"))
        if task.step.timeout:
            self._emit(fx.CancelTimer(f"step:{task.task_id}:{task.step_index}"))

    def _start_step_timer(self, task: Task, at: float) -> None:
        if task.step.timeout:
            timer = f"step:{task.task_id}:{task.step_index}"
            self._emit(fx.StartTimer(timer, at + task.step.timeout))

    @staticmethod
    def _offer_timer(task: Task) -> str:
        return f"offer:{task.task_id}:{task.offers_made}"

    def _routable(self, agent: Agent) -> bool:
        return agent.connected and self.config.is_routable(agent.activity)

    def _agent(self, agent_id: str) -> Agent:
        agent = self.state.agents.get(agent_id)
        if agent is None:
            raise RoutingError(f"unknown agent {agent_id!r}")
        return agent

    def _check_activity(self, activity: str) -> None:
        if activity not in self.config.activities:
            raise RoutingError(f"unknown activity {activity!r}")

    def _expression(self, source: str) -> Expression:
        compiled = self._expressions.get(source)
        if compiled is None:
            compiled = self._expressions[source] = compile_expression(source)
        return compiled

    def _offered_task(self, task_id: str, agent_id: str) -> Task | None:
        """The task if it is offered to ``agent_id`` now; otherwise tell the desk it is gone."""
        task = self.state.tasks.get(task_id)
        if task is not None and task.status == OFFERED and task.agent_id == agent_id:
            return task
        self._emit(fx.RescindOffer(task_id, agent_id, "offer no longer valid"))
        return None

    def _record(
        self, task: Task, at: float, action: str, reason: str, agent_id: str | None = None
    ) -> None:
        self._emit(fx.Record(task.task_id, at, action, reason, agent_id, task.queue))

    def _emit(self, effect: fx.RoutingEffect) -> None:
        self._out.append(effect)
