"""State serialised to a dict (through JSON) and rebuilt makes the same decisions."""

from __future__ import annotations

import json

from server.engine.events import TimerFired
from server.routing import events as ev
from server.routing.config import RoutingConfig
from server.routing.router import Router

CONFIG = {
    "queues": {
        "default": {},
        "billing": {"target_workers": 'skills HAS "billing"', "strategy": "round_robin"},
        "sales": {"target_workers": 'team == "sales"', "strategy": "least_busy"},
    },
    "workflows": {
        "default": {
            "filters": [
                {
                    "expression": 'topic == "billing"',
                    "targets": [{"queue": "billing", "timeout": 30}, {"queue": "default"}],
                },
                {"expression": 'topic == "sales"', "targets": [{"queue": "sales"}]},
            ]
        }
    },
    "sticky": {"window": 600, "wait": 15},
}

BEFORE = [
    ev.AgentConnected("a1", 0, {"skills": {"billing": 2}}, {"webchat": 2, "sms": 1}),
    ev.AgentConnected("a2", 1, {"team": "sales"}, {"webchat": 1}),
    ev.AgentConnected("a3", 2, {"skills": {"billing": 1}, "team": "sales"}, {"webchat": 1}),
    ev.TaskCreated("t1", 10, {"topic": "billing"}, contact_id="c1"),
    ev.OfferAccepted("t1", "a1", 11),
    ev.TaskCreated("t2", 12, {"topic": "sales"}, priority=3),
    ev.TaskCreated("t3", 13, {"topic": "billing"}, wait_when_no_agents=True),
    ev.OfferRejected("t3", "a3", 14),
    ev.TaskCreated("t4", 15, {"topic": "sales"}, wait_when_no_agents=True),
    ev.AgentDisconnected("a2", 16),
]

AFTER = [
    TimerFired("step:t3:0", 43),
    TimerFired("offer:t2:1", 42),
    ev.CloseTask("t1", 50, "resolved"),
    ev.TaskCreated("t5", 51, {"topic": "billing"}, contact_id="c1"),
    TimerFired("grace:a2:1", 76),
    ev.AgentConnected("a2", 80),
    ev.OfferAccepted("t5", "a1", 85),
    ev.Transfer("t5", 90, to_queue="sales", note="wants an upgrade"),
    ev.SetAvailability("a3", "break", 95),
    TimerFired("sticky:t5", 66),
]


def test_rebuilt_router_makes_the_same_decisions() -> None:
    config = RoutingConfig.from_dict(CONFIG)
    original = Router(config)
    for event in BEFORE:
        original.handle(event)
    snapshot = json.loads(json.dumps(original.to_dict()))
    rebuilt = Router.from_dict(snapshot, config)
    assert rebuilt.to_dict() == original.to_dict()
    for event in AFTER:
        assert rebuilt.handle(event) == original.handle(event), event
    assert rebuilt.to_dict() == original.to_dict()
    assert rebuilt.position("t4") == original.position("t4")


def test_snapshot_does_not_alias_live_state() -> None:
    router = Router()
    router.handle(ev.AgentConnected("a1", 0, {"skills": ["x"]}))
    snapshot = router.to_dict()
    snapshot["agents"]["a1"]["attributes"]["skills"].append("y")
    assert router.state.agents["a1"].attributes == {"skills": ["x"]}
