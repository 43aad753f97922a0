"""Offers: one agent at a time, timeouts, rejections, not_responding, stale answers, stickiness."""

from __future__ import annotations

from server.engine.events import TimerFired
from server.routing import effects as fx
from server.routing import events as ev
from server.routing.router import Router

from .conftest import agent, make_router, of_type, offers, records


def test_offer_timeout_then_next_agent(two_agents: Router) -> None:
    created = two_agents.handle(ev.TaskCreated("t1", 10))
    assert offers(created) == [("t1", "a1")]
    assert of_type(created, fx.Offer)[0].expires_at == 40
    timed_out = two_agents.handle(TimerFired("offer:t1:1", 40))
    assert fx.RescindOffer("t1", "a1", "offer timed out") in timed_out
    assert offers(timed_out) == [("t1", "a2")]
    assert ("offer_timeout", "a1") in records(timed_out)
    # a late accept from a1 is refused: the task is a2's offer now
    late = two_agents.handle(ev.OfferAccepted("t1", "a1", 41))
    assert of_type(late, fx.Assigned) == []
    assert of_type(late, fx.RescindOffer) == [fx.RescindOffer("t1", "a1", "offer no longer valid")]
    assert of_type(two_agents.handle(ev.OfferAccepted("t1", "a2", 42)), fx.Assigned) == [
        fx.Assigned("t1", "a2", 42, "default")
    ]


def test_rejection_never_reoffers_to_the_same_agent(two_agents: Router) -> None:
    two_agents.handle(ev.TaskCreated("t1", 10))
    rejected = two_agents.handle(ev.OfferRejected("t1", "a1", 11, "not my topic"))
    assert ("rejected", "a1") in records(rejected)
    assert offers(rejected) == [("t1", "a2")]
    assert fx.CancelTimer("offer:t1:1") in rejected
    again = two_agents.handle(ev.OfferRejected("t1", "a2", 12))
    assert offers(again) == []  # both rejected: it waits
    assert two_agents.state.tasks["t1"].status == "waiting"


def test_lone_agent_who_timed_out_is_offered_again() -> None:
    router = make_router(None, agent("a1"))
    router.handle(ev.TaskCreated("t1", 0))
    assert offers(router.handle(TimerFired("offer:t1:1", 30))) == [("t1", "a1")]


def test_not_responding_after_three_timeouts_in_a_row() -> None:
    router = make_router(None, agent("a1", capacity={"webchat": 1}))
    router.handle(ev.TaskCreated("t1", 0))
    router.handle(TimerFired("offer:t1:1", 30))
    router.handle(TimerFired("offer:t1:2", 60))
    third = router.handle(TimerFired("offer:t1:3", 90))
    assert fx.AgentStateChanged("a1", "not_responding", 90, "3 offers timed out in a row") in third
    assert offers(third) == []
    assert router.state.agents["a1"].activity == "not_responding"
    # back to available: counter reset, the waiting task is offered again
    back = router.handle(ev.SetAvailability("a1", "available", 100))
    assert offers(back) == [("t1", "a1")]
    assert router.state.agents["a1"].missed_offers == 0


def test_accept_resets_missed_offers() -> None:
    router = make_router({"max_missed_offers": 2}, agent("a1", capacity={"webchat": 1}))
    router.handle(ev.TaskCreated("t1", 0))
    router.handle(TimerFired("offer:t1:1", 30))
    router.handle(ev.OfferAccepted("t1", "a1", 31))
    router.handle(ev.CloseTask("t1", 40))
    router.handle(ev.TaskCreated("t2", 41))
    router.handle(TimerFired("offer:t2:1", 71))
    assert router.state.agents["a1"].activity == "available"


def test_task_timeout_rescinds_and_reports() -> None:
    router = make_router(None, agent("a1"))
    created = router.handle(ev.TaskCreated("t1", 0, timeout=20))
    assert fx.StartTimer("task:t1", 20) in created
    timed_out = router.handle(TimerFired("task:t1", 20))
    assert fx.TaskTimedOut("t1", 20) in timed_out
    assert fx.RescindOffer("t1", "a1", "task timed out") in timed_out
    assert "t1" not in router.state.tasks
    assert router.state.agents["a1"].busy == 0
    assert router.handle(TimerFired("offer:t1:1", 30)) == []


STICKY = {"sticky": {"window": 600, "wait": 20}}


def served_by_a2(config: dict[str, object] | None = None) -> Router:
    router = make_router(config, agent("a1", 0), agent("a2", 1))
    router.handle(ev.TaskCreated("t1", 10, contact_id="c1", queue="default"))
    router.handle(ev.OfferRejected("t1", "a1", 11))  # so a2 serves c1
    router.handle(ev.OfferAccepted("t1", "a2", 12))
    router.handle(ev.CloseTask("t1", 100, "done"))
    return router


def test_sticky_agent_gets_the_offer_first() -> None:
    router = served_by_a2()
    effects = router.handle(ev.TaskCreated("t2", 200, contact_id="c1"))
    assert offers(effects) == [("t2", "a2")]
    assert "sticky agent" in of_type(effects, fx.Offer)[0].reason


def test_sticky_window_expires() -> None:
    router = served_by_a2({"sticky": {"window": 60}})
    effects = router.handle(ev.TaskCreated("t2", 200, contact_id="c1"))
    assert offers(effects) == [("t2", "a1")]
    assert "sticky agent window expired" in of_type(effects, fx.Offer)[0].reason


def test_sticky_agent_unavailable_falls_back_with_reason() -> None:
    router = served_by_a2()
    router.handle(ev.SetAvailability("a2", "break", 150))
    effects = router.handle(ev.TaskCreated("t2", 200, contact_id="c1"))
    offer = of_type(effects, fx.Offer)[0]
    assert (offer.agent_id, offer.reason) == (
        "a1",
        "longest idle in queue default, sticky agent unavailable",
    )


def test_sticky_wait_holds_the_task_then_offers_when_agent_frees() -> None:
    router = served_by_a2(STICKY)
    router.handle(ev.SetAvailability("a2", "break", 150))
    held = router.handle(ev.TaskCreated("t2", 200, contact_id="c1"))
    assert offers(held) == []
    assert fx.StartTimer("sticky:t2", 220) in held
    back = router.handle(ev.SetAvailability("a2", "available", 210))
    assert offers(back) == [("t2", "a2")]
    assert fx.CancelTimer("sticky:t2") in back


def test_sticky_wait_expires_to_the_queue() -> None:
    router = served_by_a2(STICKY)
    router.handle(ev.SetAvailability("a2", "break", 150))
    router.handle(ev.TaskCreated("t2", 200, contact_id="c1"))
    expired = router.handle(TimerFired("sticky:t2", 220))
    assert ("sticky_wait_expired", "a2") in records(expired)
    assert offers(expired) == [("t2", "a1")]
