"""WhatsApp's customer-service window: free-form messages only within 24 hours of the
customer's last inbound message; outside it only approved templates may be sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

SERVICE_WINDOW = timedelta(hours=24)

WINDOW_CLOSED_CODE = "window_closed"
WINDOW_CLOSED_REASON = (
    "the WhatsApp 24-hour customer service window is closed (no inbound message from the "
    "customer in the last 24 hours); only a template message can be sent"
)


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """True while free-form messages may be sent. Naive datetimes are taken as UTC."""
    if last_inbound_at is None:
        return False
    return _aware(now) - _aware(last_inbound_at) < SERVICE_WINDOW


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
