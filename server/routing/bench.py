"""Micro-benchmark of routing decisions: ``measure(agents, tasks)`` -> p50/p99 in milliseconds.

The router gets ``agents`` agents (one webchat slot each, in the default queue) and a backlog of
``tasks`` waiting tasks, so every measured event makes a real decision against full indexes:
closing an assigned task frees an agent, who is offered the head of the backlog; a new task finds
no free agent and joins the backlog; an acceptance assigns. Run ``python -m server.routing.bench``.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from server.routing import effects as fx
from server.routing import events as ev
from server.routing.router import Router


def measure(agents: int, tasks: int, decisions: int = 2000) -> dict[str, Any]:
    router = Router()
    now = 0.0
    for index in range(agents):
        router.handle(ev.AgentConnected(f"a{index}", now, {"level": index % 5}, {"webchat": 1}))
    offered: dict[str, str] = {}  # task -> agent, for the tasks offered and not yet accepted
    for index in range(agents + tasks):
        now += 0.001
        for effect in router.handle(ev.TaskCreated(f"t{index}", now, {"n": index})):
            if isinstance(effect, fx.Offer):
                offered[effect.task_id] = effect.agent_id
    for task_id, agent_id in list(offered.items()):
        router.handle(ev.OfferAccepted(task_id, agent_id, now))
    assigned = list(offered)
    offered.clear()
    samples: list[float] = []
    next_task = agents + tasks
    for index in range(decisions):
        now += 0.01
        if index % 2 == 0 and assigned:
            event: ev.RoutingEvent = ev.CloseTask(assigned.pop(0), now, "resolved", "bench")
        elif offered:
            task_id, agent_id = offered.popitem()
            event = ev.OfferAccepted(task_id, agent_id, now)
            assigned.append(task_id)
        else:
            event = ev.TaskCreated(f"t{next_task}", now)
            next_task += 1
        started = time.perf_counter()
        effects = router.handle(event)
        samples.append((time.perf_counter() - started) * 1000)
        for effect in effects:
            if isinstance(effect, fx.Offer):
                offered[effect.task_id] = effect.agent_id
    samples.sort()
    return {
        "agents": agents,
        "tasks": tasks,
        "decisions": len(samples),
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "max_ms": samples[-1],
    }


if __name__ == "__main__":
    sizes = [int(arg) for arg in sys.argv[1:]] or [100, 1000, 10000]
    for size in sizes:
        print(measure(size, size))
