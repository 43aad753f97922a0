"""``split-based-on``: every Studio operator, first matching transition wins, noMatch otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from widgets.operators import OPERATORS

from .harness import Runner, flow_of, path, state, trigger

# (operator, value, input that matches, input that does not)
OPERATOR_TABLE: list[tuple[str, str, str, str]] = [
    ("equal_to", "yes", " YES ", "yes please"),
    ("not_equal_to", "stop", "go", "Stop"),
    ("matches_any_of", "yes, y, yeah", "Y", "nope"),
    ("does_not_match_any_of", "stop,quit", "hello", "QUIT"),
    ("contains", "refund", "I want a Refund now", "return it"),
    ("does_not_contain", "refund", "return it", "REFUND please"),
    ("starts_with", "hi", "Hi there", "oh hi"),
    ("does_not_start_with", "hi", "oh hi", "hi there"),
    ("is_blank", "", "   ", "x"),
    ("is_not_blank", "", "x", ""),
    ("regex", r"^(?:[1-9]|0[1-9]|10)$", "10", "11"),
    ("less_than", "5", "4.5", "5"),
    ("greater_than", "5", "10", "five"),
    ("is_before_date", "2024-06-01", "2024-05-31", "2024-06-01"),
    ("is_after_date", "2024-06-01", "2024-06-02T08:00:00Z", "05/31/2024"),
    ("is_before_time", "17:00", "9:30 AM", "17:00"),
    ("is_after_time", "17:00", "17:01", "04:59 PM"),
]


def test_the_table_covers_every_operator() -> None:
    assert sorted(op for op, *_ in OPERATOR_TABLE) == sorted(OPERATORS)


def split_flow(*matches: list[dict[str, Any]], input_: str = "{{trigger.message.Body}}") -> Runner:
    """Trigger -> split; match transitions lead to ``m0``, ``m1``...; noMatch to ``none``."""
    transitions: list[dict[str, Any]] = [{"event": "noMatch", "next": "none"}]
    transitions += [
        {"event": "match", "next": f"m{i}", "conditions": conditions}
        for i, conditions in enumerate(matches)
    ]
    split = {
        "name": "split",
        "type": "split-based-on",
        "transitions": transitions,
        "properties": {"input": input_, "offset": {"x": 0, "y": 0}},
    }
    ends = [
        state(name, "set-variables", {"next": None}, variables=[{"key": "went", "value": name}])
        for name in ["none", *(f"m{i}" for i in range(len(matches)))]
    ]
    return Runner(flow_of(trigger(incomingMessage="split"), split, *ends))


def condition(operator: str, value: object, **extra: Any) -> dict[str, Any]:
    return {"friendly_name": f"{operator} {value}", "type": operator, "value": value, **extra}


def went(runner: Runner, body: str) -> str:
    result = runner.start(body)
    assert result.execution.status == "ended"
    return str(result.execution.context["flow"]["variables"]["went"])


@pytest.mark.parametrize(("operator", "value", "matching", "other"), OPERATOR_TABLE)
def test_operator_matches(operator: str, value: str, matching: str, other: str) -> None:
    assert went(split_flow([condition(operator, value)]), matching) == "m0"


@pytest.mark.parametrize(("operator", "value", "matching", "other"), OPERATOR_TABLE)
def test_operator_does_not_match(operator: str, value: str, matching: str, other: str) -> None:
    assert went(split_flow([condition(operator, value)]), other) == "none"


@pytest.mark.parametrize(
    ("operator", "value", "subject"),
    [
        ("regex", "([unclosed", "anything"),  # a broken pattern is no match, not a crash
        ("less_than", "5", "not a number"),
        ("is_before_date", "2024-01-01", "someday"),
        ("is_after_time", "not a time", "10:00"),
        ("no_such_operator", "x", "x"),
    ],
)
def test_unparsable_inputs_do_not_match(operator: str, value: str, subject: str) -> None:
    assert went(split_flow([condition(operator, value)]), subject) == "none"


def test_first_transition_that_holds_wins() -> None:
    runner = split_flow(
        [condition("equal_to", "never")],
        [condition("contains", "order")],
        [condition("starts_with", "where")],
    )
    result = runner.start("where is my order")
    assert path(result)[1] == ("split", "match", "m1")
    assert result.execution.context["widgets"]["split"] == {
        "input": "where is my order",
        "matched": "contains order",
    }


def test_all_conditions_of_a_transition_must_hold() -> None:
    both = [condition("contains", "order"), condition("contains", "late")]
    runner = split_flow(both, [condition("is_not_blank", "")])
    assert went(runner, "my order is late") == "m0"
    assert went(split_flow(both, [condition("is_not_blank", "")]), "my order") == "m1"


def test_no_match_records_the_input() -> None:
    result = split_flow([condition("equal_to", "a")]).start("b")
    assert path(result)[1] == ("split", "noMatch", "none")
    assert result.execution.context["widgets"]["split"] == {"input": "b", "matched": None}


def test_value_and_arguments_are_templated() -> None:
    # The daily-sit-down child compares two earlier replies; here the message against flow data.
    runner = split_flow(
        [
            condition(
                "equal_to",
                "{{flow.data.expected | upcase}}",
                arguments=["{{trigger.message.Body}}"],
            )
        ],
        input_="ignored when arguments are given",
    )
    result = runner.start(
        trigger="incomingMessage", message={"Body": "Blue"}, data={"expected": "blue"}
    )
    assert result.execution.context["flow"]["variables"]["went"] == "m0"


def test_numeric_value_from_json_is_compared_as_a_number() -> None:
    assert went(split_flow([condition("greater_than", 7)]), "8") == "m0"
