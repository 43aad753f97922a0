"""Routing configuration: queues, workflows, activities and timeouts, loaded from a plain dict.

The runtime reads the dict from a JSON or TOML file; ``RoutingConfig.from_dict({})`` is the
default configuration (one ``default`` queue taking every available agent, longest idle, 30 s
offer timeout, 60 s disconnect grace).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.routing.expressions import Expression, compile_expression

LONGEST_IDLE = "longest_idle"
LEAST_BUSY = "least_busy"
ROUND_ROBIN = "round_robin"
STRATEGIES = (LONGEST_IDLE, LEAST_BUSY, ROUND_ROBIN)

AVAILABLE = "available"
OFFLINE = "offline"
NOT_RESPONDING = "not_responding"
DEFAULT_ACTIVITIES = {AVAILABLE: True, "busy": False, "break": False, OFFLINE: False}
DEFAULT_CAPACITY = {"webchat": 3, "sms": 1, "whatsapp": 2, "app": 3}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Queue:
    name: str
    target_workers: Expression
    strategy: str = LONGEST_IDLE
    offer_timeout: float | None = None  # None: the configuration's offer_timeout


@dataclass(frozen=True, slots=True)
class Step:
    """A workflow target: try ``queue`` (narrowed by ``expression``) for ``timeout`` seconds."""

    queue: str
    expression: str | None = None  # over agent attributes; task.x reads the task's attributes
    timeout: float | None = None  # None: stay on this step
    priority: int | None = None  # None: keep the task's priority

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "expression": self.expression,
            "timeout": self.timeout,
            "priority": self.priority,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        timeout = data.get("timeout")
        priority = data.get("priority")
        return cls(
            queue=str(data["queue"]),
            expression=data.get("expression") or None,
            timeout=float(timeout) if timeout not in (None, "") else None,
            priority=int(priority) if priority not in (None, "") else None,
        )


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    expression: Expression  # over the task's attributes
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Workflow:
    name: str
    filters: tuple[Filter, ...]
    default_queue: str

    def steps_for(self, task_attributes: dict[str, Any]) -> tuple[str, tuple[Step, ...]]:
        """The first matching filter's name and steps, else the default queue."""
        for candidate in self.filters:
            if candidate.expression.matches(task_attributes):
                return candidate.name, candidate.steps
        return "default", (Step(self.default_queue),)


@dataclass(frozen=True, slots=True)
class StickyConfig:
    window: float = 3600.0  # seconds after serving a contact during which the agent is preferred
    wait: float = 0.0  # seconds to hold a task for a busy sticky agent; 0 = do not wait


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    queues: dict[str, Queue]
    workflows: dict[str, Workflow]
    default_workflow: str = "default"
    activities: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_ACTIVITIES))
    offer_timeout: float = 30.0
    disconnect_grace: float = 60.0
    max_missed_offers: int = 3
    not_responding_activity: str = NOT_RESPONDING
    default_capacity: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    sticky: StickyConfig = field(default_factory=StickyConfig)
    default_handle_time: float = 300.0  # seconds, for estimated wait before any task was handled
    stats_window: int = 50  # recent handle/wait times kept per queue

    def is_routable(self, activity: str) -> bool:
        return self.activities.get(activity, False)

    def offer_timeout_for(self, queue: str) -> float:
        configured = self.queues[queue].offer_timeout if queue in self.queues else None
        return configured if configured is not None else self.offer_timeout

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoutingConfig:
        queues = {
            name: _queue(name, spec)
            for name, spec in (data.get("queues") or {"default": {}}).items()
        }
        workflows = {
            name: _workflow(name, spec)
            for name, spec in (data.get("workflows") or {"default": {}}).items()
        }
        activities = dict(data.get("activities") or DEFAULT_ACTIVITIES)
        not_responding = str(data.get("not_responding_activity", NOT_RESPONDING))
        activities.setdefault(not_responding, False)
        activities.setdefault(OFFLINE, False)
        sticky = data.get("sticky") or {}
        config = cls(
            queues=queues,
            workflows=workflows,
            default_workflow=str(data.get("default_workflow", next(iter(workflows)))),
            activities=activities,
            offer_timeout=float(data.get("offer_timeout", 30)),
            disconnect_grace=float(data.get("disconnect_grace", 60)),
            max_missed_offers=int(data.get("max_missed_offers", 3)),
            not_responding_activity=not_responding,
            default_capacity=dict(data.get("default_capacity") or DEFAULT_CAPACITY),
            sticky=StickyConfig(
                window=float(sticky.get("window", 3600)), wait=float(sticky.get("wait", 0))
            ),
            default_handle_time=float(data.get("default_handle_time", 300)),
            stats_window=int(data.get("stats_window", 50)),
        )
        config.validate()
        return config

    def validate(self) -> None:
        if self.default_workflow not in self.workflows:
            raise ConfigError(f"default_workflow {self.default_workflow!r} is not a workflow")
        for workflow in self.workflows.values():
            steps = [step for f in workflow.filters for step in f.steps]
            for queue in [workflow.default_queue, *(step.queue for step in steps)]:
                if queue not in self.queues:
                    raise ConfigError(f"workflow {workflow.name!r} names unknown queue {queue!r}")
            for step in steps:
                if step.expression:
                    compile_expression(step.expression)
        if not any(self.activities.values()):
            raise ConfigError("no activity is routable")


def _queue(name: str, spec: dict[str, Any]) -> Queue:
    strategy = str(spec.get("strategy", LONGEST_IDLE))
    if strategy not in STRATEGIES:
        raise ConfigError(f"queue {name!r}: strategy must be one of {', '.join(STRATEGIES)}")
    timeout = spec.get("offer_timeout")
    return Queue(
        name=name,
        target_workers=compile_expression(str(spec.get("target_workers", "1==1"))),
        strategy=strategy,
        offer_timeout=float(timeout) if timeout is not None else None,
    )


def _workflow(name: str, spec: dict[str, Any]) -> Workflow:
    filters = []
    for index, item in enumerate(spec.get("filters") or []):
        targets = item.get("targets") or item.get("steps") or []
        if not targets:
            raise ConfigError(f"workflow {name!r} filter {index} has no targets")
        filters.append(
            Filter(
                name=str(item.get("name", f"filter-{index}")),
                expression=compile_expression(str(item.get("expression", "1==1"))),
                steps=tuple(Step.from_dict(target) for target in targets),
            )
        )
    return Workflow(name, tuple(filters), str(spec.get("default_queue", "default")))
