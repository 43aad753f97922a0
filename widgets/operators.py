"""Studio's ``split-based-on`` operators, as pure functions of (input, value).

Studio compares strings case-insensitively and trims surrounding whitespace; numeric operators
compare numbers and fail (no match) on text that is not a number; date and time operators
parse ISO-8601 dates and ``HH:MM`` times.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time

Operator = Callable[[str, str], bool]


def _norm(text: str) -> str:
    return text.strip().casefold()


def _options(value: str) -> list[str]:
    """``matches_any_of`` takes a comma-separated list."""
    return [_norm(v) for v in value.split(",") if v.strip()]


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def _compare_numbers(left: str, right: str, check: Callable[[float, float], bool]) -> bool:
    a, b = _number(left), _number(right)
    return a is not None and b is not None and check(a, b)


def _date(text: str) -> date | None:
    text = text.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    for fmt in ("%m/%d/%Y", "%Y/%m/%d", "%d %B %Y", "%B %d, %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _time(text: str) -> time | None:
    text = text.strip().upper()
    for fmt in ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M%p", "%I %p"):
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).time()
    except ValueError:
        return None


def _regex(text: str, pattern: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _before_date(a: str, b: str) -> bool:
    x, y = _date(a), _date(b)
    return x is not None and y is not None and x < y


def _after_date(a: str, b: str) -> bool:
    x, y = _date(a), _date(b)
    return x is not None and y is not None and x > y


def _before_time(a: str, b: str) -> bool:
    x, y = _time(a), _time(b)
    return x is not None and y is not None and x < y


def _after_time(a: str, b: str) -> bool:
    x, y = _time(a), _time(b)
    return x is not None and y is not None and x > y


OPERATORS: dict[str, Operator] = {
    "equal_to": lambda a, b: _norm(a) == _norm(b),
    "not_equal_to": lambda a, b: _norm(a) != _norm(b),
    "matches_any_of": lambda a, b: _norm(a) in _options(b),
    "does_not_match_any_of": lambda a, b: _norm(a) not in _options(b),
    "contains": lambda a, b: _norm(b) in _norm(a),
    "does_not_contain": lambda a, b: _norm(b) not in _norm(a),
    "starts_with": lambda a, b: _norm(a).startswith(_norm(b)),
    "does_not_start_with": lambda a, b: not _norm(a).startswith(_norm(b)),
    "is_blank": lambda a, b: not a.strip(),
    "is_not_blank": lambda a, b: bool(a.strip()),
    "regex": _regex,
    "less_than": lambda a, b: _compare_numbers(a, b, lambda x, y: x < y),
    "greater_than": lambda a, b: _compare_numbers(a, b, lambda x, y: x > y),
    "is_before_date": _before_date,
    "is_after_date": _after_date,
    "is_before_time": _before_time,
    "is_after_time": _after_time,
}
