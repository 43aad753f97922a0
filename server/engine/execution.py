"""Executions are plain data: everything the engine needs to continue a run after a restart."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from server.pickling import pickled_by_constructor

ACTIVE = "active"
ENDED = "ended"
FAILED = "failed"


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Execution:
    id: str
    flow_sid: str
    flow_version: int
    conversation_id: str | None
    contact_id: str | None
    started_at: float
    status: str = ACTIVE
    state: str | None = None  # the widget the execution is in (waiting or about to run)
    # What the current widget waits for: request ids, timer ids, reply, event names. Set by the
    # widget; events that do not match are stale (a timer cancelled too late) and ignored.
    waiting: dict[str, Any] = field(default_factory=dict)
    # The Liquid context: trigger, flow (variables, data, channel), widgets, contact, conversation.
    context: dict[str, Any] = field(default_factory=dict)
    step_count: int = 0
    repeat_count: int = 0  # how many times in a row ``state`` was entered
    updated_at: float = 0.0
    ended_reason: str | None = None
    # A subflow's execution: the parent it reports to when it ends, the request the parent
    # waits on, and how deep it is nested (bounded so a flow cannot call itself forever).
    parent_id: str | None = None
    parent_request_id: str | None = None
    depth: int = 0
    # How many times the store has written this execution. The engine carries it unchanged; the
    # store commits a step only over the revision it was computed from (optimistic locking).
    revision: int = 0

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: the values are already JSON data, and ``asdict`` would deep-copy
        # the whole context on every step only for the serializer to read it once.
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Execution:
        return cls(**data)


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class StepLog:
    """One transition, as Studio's execution steps record them."""

    seq: int
    from_state: str
    event: str
    to_state: str | None
    at: float
    outputs: dict[str, Any] | None = None


_FIELDS = tuple(f.name for f in fields(Execution))
