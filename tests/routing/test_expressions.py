"""The TaskRouter expression language: every operator, paths, literals, errors."""

from __future__ import annotations

from typing import Any

import pytest

from server.routing.expressions import ExpressionError, compile_expression

AGENT = {
    "skills": {"billing": 3, "sales": 1},
    "languages": ["es", "en"],
    "language": "es",
    "level": 2,
    "team": "north",
    "vip": True,
    "bio": "speaks spanish and english",
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1==1", True),
        ("1 == 2", False),
        ('language == "es"', True),
        ("language == 'en'", False),
        ('language != "en"', True),
        ("level >= 2", True),
        ("level > 2", False),
        ("level <= 1", False),
        ("level < 3", True),
        ("skills.billing >= 2", True),
        ("skills.sales >= 2", False),
        ('skills HAS "billing"', True),
        ('skills HAS "support"', False),
        ('languages HAS "en"', True),
        ('language IN ["es", "en"]', True),
        ('language IN ["fr"]', False),
        ('languages IN ["fr", "en"]', True),  # a list is IN when any item is
        ('language NOT IN ["fr"]', True),
        ('language not in ["es"]', False),
        ('bio CONTAINS "spanish"', True),
        ('bio CONTAINS "french"', False),
        ('languages CONTAINS "es"', True),
        ('skills HAS "billing" AND level >= 2', True),
        ('skills HAS "billing" AND level >= 3', False),
        ('team == "south" OR level == 2', True),
        ('NOT team == "south"', True),
        ('NOT (team == "north" OR vip)', False),
        ('(team == "south" OR team == "north") AND (level > 1)', True),
        ('team == "south" || level == 2 && vip', True),
        ("vip", True),
        ("vip == true", True),
        ("missing", False),
        ('missing == "x"', False),
        ('missing != "x"', False),  # absent attributes make every comparison false
        ('level > "2"', False),  # no comparison across types
        ("skills.billing.deep == 1", False),
        ('"en" IN languages', True),  # a literal IN a list attribute
        ("-1 < level", True),
        ("level == 2.0", True),
    ],
)
def test_operator_table(source: str, expected: bool) -> None:
    assert compile_expression(source).matches(AGENT) is expected


def test_worker_and_task_prefixes_in_target_expressions() -> None:
    expression = compile_expression("worker.language == task.language AND worker.level >= 2")
    assert expression.matches(AGENT, {"language": "es"})
    assert not expression.matches(AGENT, {"language": "en"})


def test_escaped_quotes_in_strings() -> None:
    assert compile_expression(r'name == "say \"hi\""').matches({"name": 'say "hi"'})


@pytest.mark.parametrize(
    ("source", "position", "fragment"),
    [
        ("", 0, "empty expression"),
        ("level >=", 8, "expected an attribute"),
        ('language IN ["es" "en"]', 18, "expected ',' or ']'"),
        ("(level > 1", 10, "expected ')'"),
        ("level > 1 level", 10, "expected AND, OR"),
        ("level # 2", 6, "unexpected character '#'"),
        ('language == "es', 12, "unterminated string"),
        ("language IN [es]", 13, "expected an attribute"),
        ("AND level", 0, "expected an attribute"),
    ],
)
def test_errors_name_the_position(source: str, position: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        compile_expression(source)
    assert raised.value.position == position
    assert fragment in str(raised.value)
    assert f"position {position}" in str(raised.value)


def test_expression_keeps_its_source() -> None:
    source: Any = 'skills HAS "billing"'
    assert compile_expression(source).source == source
