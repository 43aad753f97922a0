"""``business-hours``: ``open``, ``closed`` or ``holiday`` at the time of the event.

Weekly opening hours in a named time zone (``zoneinfo``), with public holidays from the
``holidays`` package for a country (and subdivision) plus listed dates. The time is the event's
``at``, never the clock, so a flow's behaviour is reproducible from its events.

Hours are a list of ``{"days": ["mon", ...], "open": "09:00", "close": "17:00"}``; a ``close``
at or before ``open`` runs past midnight into the next day.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from widgets.base import WidgetCall, WidgetResult, WidgetType

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(value: Any) -> time:
    hours, _, minutes = str(value).partition(":")
    hour = int(hours)
    return time(23, 59, 59, 999999) if hour == 24 else time(hour, int(minutes or 0))


def _days(value: Any) -> set[int]:
    names = [value] if isinstance(value, str) else list(value or [])
    return {DAYS.index(str(n).lower()[:3]) for n in names if str(n).lower()[:3] in DAYS}


def is_open(hours: Sequence[Mapping[str, Any]], local: datetime) -> bool:
    now = local.time()
    today = local.weekday()
    yesterday = (today - 1) % 7
    for window in hours:
        days = _days(window.get("days"))
        opens, closes = _clock(window.get("open", "00:00")), _clock(window.get("close", "24:00"))
        if closes > opens:
            if today in days and opens <= now < closes:
                return True
        elif (today in days and now >= opens) or (yesterday in days and now < closes):
            return True
    return False


@functools.lru_cache(maxsize=256)
def _public_holidays(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision, years=year)


def holiday_name(config: Mapping[str, Any], day: date) -> str | None:
    listed = {str(d) for d in config.get("dates") or []}
    if day.isoformat() in listed:
        return "holiday"
    country = str(config.get("country") or "").strip()
    if not country:
        return None
    subdivision = str(config.get("subdivision") or "").strip() or None
    name = _public_holidays(country.upper(), subdivision, day.year).get(day)
    return str(name) if name else None


def enter(call: WidgetCall) -> WidgetResult:
    zone_name = str(call.props.get("timezone") or "UTC")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        # Validation names a bad zone; a flow stored before that still answers: closed.
        return WidgetResult(transition="closed", outputs={"error": f"unknown zone {zone_name!r}"})
    local = datetime.fromtimestamp(call.at, zone)
    outputs: dict[str, Any] = {
        "local_time": local.isoformat(timespec="seconds"),
        "weekday": DAYS[local.weekday()],
        "timezone": zone_name,
    }
    holiday = holiday_name(call.props.get("holidays") or {}, local.date())
    if holiday:
        return WidgetResult(transition="holiday", outputs={**outputs, "holiday": holiday})
    hours = call.props.get("hours") or []
    opened = is_open(hours, local)
    return WidgetResult(transition="open" if opened else "closed", outputs=outputs)


CLOCK = {"type": "string", "pattern": "^([01]?[0-9]|2[0-4]):[0-5][0-9]$"}

WIDGET = WidgetType(
    type="business-hours",
    events=("open", "closed", "holiday"),
    properties_schema={
        "type": "object",
        "properties": {
            "timezone": {"type": "string"},
            "hours": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "days": {"type": "array", "items": {"enum": list(DAYS)}},
                        "open": CLOCK,
                        "close": CLOCK,
                    },
                    "required": ["days", "open", "close"],
                },
            },
            "holidays": {
                "type": "object",
                "properties": {
                    "country": {"type": "string"},
                    "subdivision": {"type": "string"},
                    "dates": {"type": "array", "items": {"type": "string", "format": "date"}},
                },
            },
        },
        "required": ["timezone", "hours"],
    },
    enter=enter,
    description="Splits on opening hours, time zones and holidays.",
)
