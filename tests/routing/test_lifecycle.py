"""Disconnects and grace, transfers, wrap-up and close, supervisor actions, no agents, position."""

from __future__ import annotations

from server.engine.events import TimerFired
from server.routing import effects as fx
from server.routing import events as ev
from server.routing.router import Router

from .conftest import agent, make_router, of_type, offers, records


def assigned(router: Router, task_id: str, at: float, **fields: object) -> str:
    effects = router.handle(ev.TaskCreated(task_id, at, **fields))  # type: ignore[arg-type]
    [(_, agent_id)] = offers(effects)
    router.handle(ev.OfferAccepted(task_id, agent_id, at))
    return agent_id


def holders(router: Router, task_id: str) -> list[str]:
    """Every agent holding the task as an offer or an assignment (must be at most one)."""
    return [
        a.agent_id
        for a in router.state.agents.values()
        if task_id in a.tasks or task_id in a.offers
    ]


def test_reconnect_within_grace_keeps_tasks(two_agents: Router) -> None:
    assert assigned(two_agents, "t1", 10) == "a1"
    gone = two_agents.handle(ev.AgentDisconnected("a1", 20))
    assert fx.StartTimer("grace:a1:1", 80) in gone
    assert ("agent_disconnected", "a1") in records(gone)
    back = two_agents.handle(ev.AgentConnected("a1", 50))
    assert fx.CancelTimer("grace:a1:1") in back
    assert two_agents.state.tasks["t1"].agent_id == "a1"
    assert two_agents.handle(TimerFired("grace:a1:1", 80)) == []  # stale timer
    assert holders(two_agents, "t1") == ["a1"]


def test_after_grace_tasks_go_to_the_front_and_to_another_agent() -> None:
    router = make_router(
        None, agent("a1", 0, capacity={"webchat": 1}), agent("a2", 1, capacity={"webchat": 1})
    )
    assigned(router, "t1", 10)  # a1
    assigned(router, "t2", 11)  # a2
    router.handle(ev.TaskCreated("t3", 12))  # waits: nobody free
    router.handle(ev.AgentDisconnected("a1", 20))
    expired = router.handle(TimerFired("grace:a1:1", 80))
    assert fx.AgentStateChanged("a1", "offline", 80, "disconnect grace period expired") in expired
    requeued = of_type(expired, fx.Requeued)
    assert requeued == [
        fx.Requeued("t1", "default", "a1", True, "agent did not reconnect within the grace period")
    ]
    front = router.position("t1")
    assert front is not None and front.position == 1  # ahead of t3, created earlier
    # a2 frees a slot: the re-queued task, not the older-created t3, is offered first
    freed = router.handle(ev.CloseTask("t2", 90, "done"))
    assert offers(freed) == [("t1", "a2")]
    assert router.state.tasks["t1"].attributes == {}
    # a1 returns: it does not get t1 back; t1 is held by exactly one agent
    router.handle(ev.AgentConnected("a1", 95))
    assert holders(router, "t1") == ["a2"]
    assert router.state.agents["a1"].tasks == []


def test_disconnect_rescinds_pending_offers(two_agents: Router) -> None:
    two_agents.handle(ev.TaskCreated("t1", 10))
    gone = two_agents.handle(ev.AgentDisconnected("a1", 11))
    assert fx.RescindOffer("t1", "a1", "agent disconnected") in gone
    assert offers(gone) == [("t1", "a2")]
    assert holders(two_agents, "t1") == ["a2"]


def test_transfer_to_agent_with_note(two_agents: Router) -> None:
    assigned(two_agents, "t1", 10, attributes={"order": 7})
    moved = two_agents.handle(ev.Transfer("t1", 20, to_agent="a2", note="VIP", by="agent:a1"))
    assert offers(moved) == [("t1", "a2")]
    assert of_type(moved, fx.Offer)[0].reason == "transfer from a1"
    assert two_agents.state.agents["a1"].busy == 0
    two_agents.handle(ev.OfferAccepted("t1", "a2", 21))
    task = two_agents.state.tasks["t1"]
    assert (task.agent_id, task.notes, task.attributes) == ("a2", ["VIP"], {"order": 7})


def test_transfer_to_queue_excludes_the_sender() -> None:
    config = {"queues": {"default": {}, "sales": {"target_workers": 'team == "sales"'}}}
    router = make_router(config, agent("a1", 0, team="sales"), agent("s1", 1, team="sales"))
    assert assigned(router, "t1", 10, queue="sales") == "a1"
    moved = router.handle(ev.Transfer("t1", 20, to_queue="sales", note="upsell"))
    assert of_type(moved, fx.Requeued) == [fx.Requeued("t1", "sales", "a1", False, "transfer")]
    assert offers(moved) == [("t1", "s1")]


def test_transfer_failures_keep_the_task() -> None:
    router = make_router(None, agent("a1", 0), agent("a2", 1))
    assigned(router, "t1", 10)
    router.handle(ev.SetAvailability("a2", "break", 11))
    for transfer, reason in [
        (ev.Transfer("t1", 12, to_agent="a2"), "agent a2 is not available on webchat"),
        (ev.Transfer("t1", 12, to_queue="nope"), "unknown queue 'nope'"),
        (ev.Transfer("t1", 12), "give exactly one of to_agent and to_queue"),
        (ev.Transfer("zz", 12, to_agent="a2"), "task is not assigned"),
    ]:
        assert router.handle(transfer) == [fx.TransferFailed(transfer.task_id, reason)]
    assert router.state.tasks["t1"].agent_id == "a1"


def test_wrap_up_frees_the_slot_and_close_ends_the_task() -> None:
    router = make_router(None, agent("a1", capacity={"webchat": 1}))
    assigned(router, "t1", 10)
    router.handle(ev.TaskCreated("t2", 11))  # waits for a1's only slot
    wrapped = router.handle(ev.WrapUp("t1", 40, "resolved"))
    assert fx.WrapUpStarted("t1", "a1", "resolved") in wrapped
    assert offers(wrapped) == [("t2", "a1")]
    closed = router.handle(ev.CloseTask("t1", 60, by="agent:a1"))
    assert of_type(closed, fx.TaskClosed) == [fx.TaskClosed("t1", "a1", 60, "resolved", "agent:a1")]
    assert "t1" not in router.state.tasks
    assert router.handle(ev.CloseTask("t1", 61)) == []  # closing twice is harmless


def test_supervisor_reassign_and_force_close() -> None:
    router = make_router(None, agent("a1", 0), agent("a2", 1))
    assigned(router, "t1", 10)
    moved = router.handle(ev.Reassign("t1", "a2", 20, by="supervisor:s1"))
    assert of_type(moved, fx.Assigned) == [fx.Assigned("t1", "a2", 20, "default")]
    assert holders(router, "t1") == ["a2"]
    router.handle(ev.TaskCreated("t2", 21))  # offered to a1
    forced = router.handle(ev.CloseTask("t2", 22, "spam", "supervisor:s1"))
    assert fx.RescindOffer("t2", "a1", "task closed") in forced
    assert router.state.agents["a1"].busy == 0


def test_no_agents_versus_waiting() -> None:
    router = make_router(None, agent("a1"))
    router.handle(ev.SetAvailability("a1", "break", 1))
    refused = router.handle(ev.TaskCreated("t1", 2))
    assert of_type(refused, fx.NoAgents) == [fx.NoAgents("t1", "default", 2)]
    assert "t1" not in router.state.tasks
    waiting = router.handle(ev.TaskCreated("t2", 3, wait_when_no_agents=True))
    assert of_type(waiting, fx.NoAgents) == []
    assert offers(router.handle(ev.SetAvailability("a1", "available", 4))) == [("t2", "a1")]


def test_position_and_estimated_wait() -> None:
    router = make_router(
        {"default_handle_time": 120},
        agent("a1", 0, capacity={"webchat": 1}),
        agent("a2", 0, capacity={"webchat": 1}),
    )
    assigned(router, "t1", 1)
    assigned(router, "t2", 2)
    for index, priority in [(3, 0), (4, 0), (5, 9)]:
        router.handle(ev.TaskCreated(f"t{index}", index, priority=priority))
    assert [router.position(f"t{i}").position for i in (5, 3, 4)] == [1, 2, 3]  # type: ignore[union-attr]
    assert router.position("t4").estimated_wait == 3 * 120 / 2  # type: ignore[union-attr]
    router.handle(ev.CloseTask("t1", 61))  # handle time 60 s; t5 offered to a1
    router.handle(ev.CloseTask("t2", 102))  # handle time 100 s; t3 offered to a2
    position = router.position("t4")
    assert position is not None
    assert (position.position, position.average_handle_time) == (1, 80)
    assert position.estimated_wait == 40
    assert router.position("t5") is None  # offered, not waiting


def test_agents_in_their_grace_period_count_as_present() -> None:
    # After a restart every agent is in its grace period: a hand-off must wait for them.
    router = make_router({"default_handle_time": 60}, agent("a1", 0, capacity={"webchat": 1}))
    router.handle(ev.AgentDisconnected("a1", 10))
    created = router.handle(ev.TaskCreated("t1", 11))
    assert of_type(created, fx.NoAgents) == []
    position = router.position("t1")
    assert position is not None and (position.position, position.estimated_wait) == (1, 60)
    assert offers(router.handle(ev.AgentConnected("a1", 12))) == [("t1", "a1")]


def test_waiting_for_an_agent_who_does_not_come_back_ends_in_no_agents() -> None:
    router = make_router(None, agent("a1"))
    router.handle(ev.AgentDisconnected("a1", 10))
    router.handle(ev.TaskCreated("t1", 11))
    router.handle(ev.TaskCreated("t2", 12, wait_when_no_agents=True))
    expired = router.handle(TimerFired("grace:a1:1", 70))
    assert of_type(expired, fx.NoAgents) == [fx.NoAgents("t1", "default", 70)]
    assert set(router.state.tasks) == {"t2"}  # it asked to wait whatever happens


def test_an_agent_on_break_in_grace_is_not_expected() -> None:
    router = make_router(None, agent("a1"))
    router.handle(ev.SetAvailability("a1", "break", 1))
    router.handle(ev.AgentDisconnected("a1", 10))
    refused = router.handle(ev.TaskCreated("t1", 11))
    assert of_type(refused, fx.NoAgents) == [fx.NoAgents("t1", "default", 11)]
