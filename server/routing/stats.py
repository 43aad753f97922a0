"""Queue position and estimated wait from recent handle times.

The estimate is deliberately simple: a task at position ``p`` in a queue with ``n`` routable
agents waits about ``p * average_handle_time / n``, where the average handle time is the mean of
the queue's last ``stats_window`` handle times (accept to wrap-up or close), or the configured
``default_handle_time`` before any task was handled. With no agent online there is no estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.routing.config import RoutingConfig
from server.routing.state import RoutingState


@dataclass(frozen=True, slots=True)
class QueuePosition:
    queue: str
    position: int  # 1 = next to be offered
    estimated_wait: float | None  # seconds; None when no agent is online in the queue
    average_handle_time: float
    average_wait: float | None  # mean of the queue's recent waits (queued to accepted)


def add_sample(samples: dict[str, list[float]], queue: str, value: float, window: int) -> None:
    recent = samples.setdefault(queue, [])
    recent.append(value)
    del recent[:-window]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def estimate_position(
    config: RoutingConfig, state: RoutingState, queue: str, position: int, online_agents: int
) -> QueuePosition:
    handle = _mean(state.handle_times.get(queue, []))
    average_handle = handle if handle is not None else config.default_handle_time
    estimate = position * average_handle / online_agents if online_agents else None
    return QueuePosition(
        queue, position, estimate, average_handle, _mean(state.wait_times.get(queue, []))
    )
