"""Who gets the offer: skills and levels, channel capacity, priorities, strategies, steps."""

from __future__ import annotations

from typing import Any

import pytest

from server.engine.events import TimerFired
from server.routing import effects as fx
from server.routing import events as ev
from server.routing.router import Router

from .conftest import agent, make_router, of_type, offers

SKILLED = {
    "queues": {
        "billing": {"target_workers": 'skills HAS "billing"'},
        "spanish": {"target_workers": 'languages HAS "es"'},
        "everyone": {},
    },
    "workflows": {
        "support": {
            "filters": [
                {
                    "name": "billing",
                    "expression": 'topic == "billing"',
                    "targets": [
                        {"queue": "billing", "expression": "skills.billing >= 3", "timeout": 30},
                        {"queue": "billing", "timeout": 30},
                        {"queue": "everyone", "priority": 5},
                    ],
                },
                {
                    "name": "es",
                    "expression": 'language IN ["es"]',
                    "targets": [{"queue": "spanish"}],
                },
            ],
            "default_queue": "everyone",
        }
    },
}


def skilled_router() -> Router:
    return make_router(
        SKILLED,
        agent("junior", 0, skills={"billing": 1}, languages=["en"], capacity={"webchat": 1}),
        agent("senior", 1, skills={"billing": 3}, languages=["en"], capacity={"webchat": 1}),
        agent("maria", 2, skills={}, languages=["es"], capacity={"webchat": 1}),
    )


@pytest.mark.parametrize(
    ("attributes", "expected_agent"),
    [
        ({"topic": "billing"}, "senior"),  # first step needs billing level 3
        ({"language": "es"}, "maria"),  # second filter
        ({"topic": "other"}, "junior"),  # default queue: longest idle of everyone
    ],
)
def test_workflow_filters_and_skill_levels(attributes: dict[str, Any], expected_agent: str) -> None:
    router = skilled_router()
    effects = router.handle(ev.TaskCreated("t1", 10, attributes, workflow="support"))
    assert offers(effects) == [("t1", expected_agent)]


def test_agent_expression_from_the_flow_narrows_the_queue() -> None:
    router = skilled_router()
    effects = router.handle(
        ev.TaskCreated("t1", 10, queue="everyone", agent_expression='languages HAS "es"')
    )
    assert offers(effects) == [("t1", "maria")]


def test_widening_steps_on_timer() -> None:
    router = skilled_router()
    router.handle(ev.SetAvailability("senior", "break", 5))
    created = router.handle(ev.TaskCreated("t1", 10, {"topic": "billing"}, workflow="support"))
    assert offers(created) == []
    assert fx.StartTimer("step:t1:0", 40) in created
    router.handle(ev.SetAvailability("junior", "busy", 11))
    # after 30 s the task widens to any billing agent; junior is busy, so it waits again
    widened = router.handle(TimerFired("step:t1:0", 40))
    assert ("widened", None) in [(r.action, r.agent_id) for r in of_type(widened, fx.Record)]
    assert offers(widened) == []
    assert fx.StartTimer("step:t1:1", 70) in widened
    # the last step widens to everyone with priority 5: maria gets it
    last = router.handle(TimerFired("step:t1:1", 70))
    assert offers(last) == [("t1", "maria")]
    assert router.state.tasks["t1"].priority == 5


def test_stale_step_timer_is_ignored() -> None:
    router = skilled_router()
    router.handle(ev.TaskCreated("t1", 10, {"topic": "billing"}, workflow="support"))
    router.handle(ev.OfferAccepted("t1", "senior", 11))
    assert router.handle(TimerFired("step:t1:0", 40)) == []


def test_capacity_is_per_channel() -> None:
    router = make_router(None, agent("a1", capacity={"webchat": 1, "sms": 1}))
    assert offers(router.handle(ev.TaskCreated("w1", 1, channel="webchat"))) == [("w1", "a1")]
    router.handle(ev.OfferAccepted("w1", "a1", 2))
    assert (
        offers(router.handle(ev.TaskCreated("w2", 3, channel="webchat", wait_when_no_agents=True)))
        == []
    )
    assert offers(router.handle(ev.TaskCreated("s1", 4, channel="sms"))) == [("s1", "a1")]
    # a channel the agent has no capacity for is never offered
    assert (
        offers(router.handle(ev.TaskCreated("x1", 5, channel="whatsapp", wait_when_no_agents=True)))
        == []
    )


def test_priority_first_then_fifo() -> None:
    router = make_router(None, agent("a1", capacity={"webchat": 1}))
    router.handle(ev.SetAvailability("a1", "busy", 1))
    for task_id, priority in [("low1", 0), ("high1", 10), ("low2", 0), ("high2", 10)]:
        router.handle(ev.TaskCreated(task_id, 2, priority=priority, wait_when_no_agents=True))
    served = []
    at = 10.0
    router_effects = router.handle(ev.SetAvailability("a1", "available", at))
    while offers(router_effects):
        task_id = offers(router_effects)[0][0]
        served.append(task_id)
        router.handle(ev.OfferAccepted(task_id, "a1", at))
        at += 1
        router_effects = router.handle(ev.CloseTask(task_id, at, "done", "agent:a1"))
    assert served == ["high1", "high2", "low1", "low2"]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("longest_idle", "a2"),  # a2 got work longest ago, though it is still busy with it
        ("least_busy", "a3"),  # a1 and a3 have no chat; a3 has been free longer
        ("round_robin", "a1"),  # a1's turn was the oldest
    ],
)
def test_selection_strategies(strategy: str, expected: str) -> None:
    config = {"queues": {"default": {"strategy": strategy}}}
    router = make_router(
        config,
        agent("a1", 0, capacity={"webchat": 3}),
        agent("a2", 1, capacity={"webchat": 3}),
        agent("a3", 2, capacity={"webchat": 3}),
    )
    first_round = []
    for index in range(3):
        task_id = f"t{index}"
        [(_, agent_id)] = offers(router.handle(ev.TaskCreated(task_id, 10 + index)))
        router.handle(ev.OfferAccepted(task_id, agent_id, 10 + index))
        first_round.append(agent_id)
    assert first_round == ["a1", "a2", "a3"]  # every strategy agrees while all are equal
    router.handle(ev.CloseTask("t0", 20, "done"))  # a1: no chat, idle since 20
    router.handle(ev.CloseTask("t2", 21, "done"))  # a3: no chat, idle since 21
    router.handle(ev.SetAvailability("a1", "break", 21.2))
    router.handle(ev.SetAvailability("a1", "available", 21.5))  # a1: idle since 21.5
    assert offers(router.handle(ev.TaskCreated("t3", 22))) == [("t3", expected)]


def test_longest_idle_prefers_who_finished_earliest() -> None:
    router = make_router(
        None, agent("a1", 0, capacity={"webchat": 1}), agent("a2", 0, capacity={"webchat": 1})
    )
    for task_id, at in [("t1", 1), ("t2", 2)]:
        [(_, agent_id)] = offers(router.handle(ev.TaskCreated(task_id, at)))
        router.handle(ev.OfferAccepted(task_id, agent_id, at))
    router.handle(ev.CloseTask("t2", 5, "done"))  # a2 idle since 5
    router.handle(ev.CloseTask("t1", 7, "done"))  # a1 idle since 7
    assert offers(router.handle(ev.TaskCreated("t3", 8))) == [("t3", "a2")]


def test_least_busy_picks_fewest_tasks() -> None:
    config = {"queues": {"default": {"strategy": "least_busy"}}}
    router = make_router(config, agent("a1", 0), agent("a2", 5))
    for task_id in ("t1", "t2"):
        router.handle(ev.TaskCreated(task_id, 1))
        router.handle(ev.OfferAccepted(task_id, router.state.tasks[task_id].agent_id or "", 1))
    loads = {a: router.state.agents[a].busy for a in ("a1", "a2")}
    assert loads == {"a1": 1, "a2": 1}
    router.handle(ev.CloseTask("t2", 3, "done"))
    free_agent = "a1" if router.state.agents["a1"].busy == 0 else "a2"
    assert offers(router.handle(ev.TaskCreated("t3", 4))) == [("t3", free_agent)]
