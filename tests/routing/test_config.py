"""Configuration from a dict, its defaults and its errors."""

from __future__ import annotations

from typing import Any

import pytest

from server.routing.config import ConfigError, RoutingConfig
from server.routing.expressions import ExpressionError


def test_default_configuration() -> None:
    config = RoutingConfig.from_dict({})
    assert list(config.queues) == ["default"]
    assert config.queues["default"].strategy == "longest_idle"
    assert config.queues["default"].target_workers.matches({})
    assert (config.offer_timeout, config.disconnect_grace, config.max_missed_offers) == (30, 60, 3)
    assert config.is_routable("available")
    assert not any(config.is_routable(a) for a in ("busy", "break", "offline", "not_responding"))
    assert config.workflows["default"].steps_for({})[1][0].queue == "default"


def test_queue_offer_timeout_overrides_the_default() -> None:
    config = RoutingConfig.from_dict({"queues": {"default": {"offer_timeout": 10}, "vip": {}}})
    assert (config.offer_timeout_for("default"), config.offer_timeout_for("vip")) == (10, 30)


def test_custom_activities() -> None:
    config = RoutingConfig.from_dict({"activities": {"ready": True, "lunch": False}})
    assert config.is_routable("ready") and not config.is_routable("lunch")
    assert "not_responding" in config.activities and "offline" in config.activities


@pytest.mark.parametrize(
    ("data", "error", "fragment"),
    [
        ({"queues": {"q": {"strategy": "random"}}}, ConfigError, "strategy must be one of"),
        ({"workflows": {"w": {"default_queue": "nope"}}}, ConfigError, "unknown queue 'nope'"),
        ({"default_workflow": "x"}, ConfigError, "default_workflow 'x'"),
        ({"queues": {"q": {"target_workers": "skills HAS"}}}, ExpressionError, "position 10"),
        (
            {"workflows": {"default": {"filters": [{"expression": "1==1"}]}}},
            ConfigError,
            "has no targets",
        ),
        ({"activities": {"away": False}}, ConfigError, "no activity is routable"),
    ],
)
def test_bad_configuration(data: dict[str, Any], error: type, fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        RoutingConfig.from_dict(data)
