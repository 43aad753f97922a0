"""Prometheus metrics (prometheus-client), exposed at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

INBOUND = Counter(
    "threadline_messages_inbound_total",
    "Inbound customer messages stored, by channel.",
    ["channel"],
    registry=REGISTRY,
)
OUTBOUND = Counter(
    "threadline_messages_outbound_total",
    "Outbound messages handed to a channel, by channel and outcome.",
    ["channel", "outcome"],
    registry=REGISTRY,
)
DUPLICATES = Counter(
    "threadline_messages_duplicate_total",
    "Inbound deliveries acknowledged as duplicates (provider retries), by channel.",
    ["channel"],
    registry=REGISTRY,
)
INBOUND_BACKLOG = Gauge(
    "threadline_inbound_backlog",
    "Inbound messages stored and acknowledged that wait for their conversation's flow.",
    registry=REGISTRY,
)
FLOW_STEP_SECONDS = Histogram(
    "threadline_flow_step_seconds",
    "Time to apply one event to an execution in the engine (no I/O).",
    registry=REGISTRY,
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
)
EXECUTIONS_ENDED = Counter(
    "threadline_executions_ended_total",
    "Executions that ended, by status.",
    ["status"],
    registry=REGISTRY,
)
WEBCHAT_SOCKETS = Gauge(
    "threadline_webchat_connections",
    "Open web chat WebSocket connections.",
    registry=REGISTRY,
)
NLU_FLOWS_TRAINING = Gauge(
    "threadline_nlu_flows_training",
    "Flows whose bot-triage classifiers are being trained in the background (loaded or "
    "published, not ready yet).",
    registry=REGISTRY,
)
