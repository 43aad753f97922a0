from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from server.flows import FlowIssue, load_flow_file, validate_flow
from server.flows.validation import SCHEMA_PATH

REPO = Path(__file__).resolve().parents[2]
STUDIO = REPO.parent / "shared" / "fixtures" / "studio"
GREETING = Path(__file__).parent / "data" / "greeting.json"
FILE = "flows/x.json"


def greeting() -> dict[str, Any]:
    return json.loads(GREETING.read_text(encoding="utf-8"))


def state(flow: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in flow["states"] if s["name"] == name)


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", sorted(STUDIO.glob("*.json")), ids=lambda p: p.name)
def test_studio_exports_validate_unchanged(path: Path) -> None:
    definition, issues = load_flow_file(path)
    assert definition is not None
    assert [str(i) for i in issues] == []


def test_studio_exports_match_the_schema_alone() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for path in sorted(STUDIO.glob("*.json")):
        Draft202012Validator(schema).validate(json.loads(path.read_text(encoding="utf-8")))


def test_sample_flow_is_valid() -> None:
    assert validate_flow(greeting(), file=FILE) == []


def test_issue_string_names_file_state_and_property() -> None:
    issue = FlowIssue(FILE, "greet", "body", "required property missing")
    assert str(issue) == "flows/x.json: state 'greet': property 'body': required property missing"
    assert str(FlowIssue(FILE, None, None, "bad")) == "flows/x.json: bad"


Breakage = Callable[[dict[str, Any]], None]


def drop_body(flow: dict[str, Any]) -> None:
    del state(flow, "bye")["properties"]["body"]


def voice_widget(flow: dict[str, Any]) -> None:
    state(flow, "bye")["type"] = "say-play"


def unknown_widget(flow: dict[str, Any]) -> None:
    state(flow, "bye")["type"] = "send-fax"


def dangling_next(flow: dict[str, Any]) -> None:
    state(flow, "greet")["transitions"][1]["next"] = "nowhere"


def duplicate_name(flow: dict[str, Any]) -> None:
    state(flow, "bye")["name"] = "support"


def bad_initial_state(flow: dict[str, Any]) -> None:
    flow["initial_state"] = "Start"


def unreachable(flow: dict[str, Any]) -> None:
    state(flow, "greet")["transitions"][1]["next"] = "route"
    state(flow, "route")["transitions"][0]["next"] = "support"


def unknown_event(flow: dict[str, Any]) -> None:
    state(flow, "support")["transitions"].append({"event": "delivered"})


def bad_property_value(flow: dict[str, Any]) -> None:
    state(flow, "greet")["properties"]["timeout"] = ["60"]


def bad_operator(flow: dict[str, Any]) -> None:
    state(flow, "route")["transitions"][1]["conditions"][0]["type"] = "equals"


def match_without_conditions(flow: dict[str, Any]) -> None:
    del state(flow, "route")["transitions"][1]["conditions"]


def liquid_syntax(flow: dict[str, Any]) -> None:
    state(flow, "bye")["properties"]["body"] = "Bye {{ contact.name"


def liquid_unknown_filter(flow: dict[str, Any]) -> None:
    state(flow, "greet")["properties"]["body"] = "Hi {{ trigger.message.Body | upcse }}"


def liquid_in_condition(flow: dict[str, Any]) -> None:
    condition = state(flow, "route")["transitions"][1]["conditions"][0]
    condition["arguments"] = ["{% if x %}unclosed"]


def missing_event(flow: dict[str, Any]) -> None:
    del state(flow, "greet")["transitions"][0]["event"]


def misspelled_key(flow: dict[str, Any]) -> None:
    transition = state(flow, "greet")["transitions"][0]
    transition["nxt"] = transition.pop("next")


def missing_states(flow: dict[str, Any]) -> None:
    del flow["states"]


def bad_offset(flow: dict[str, Any]) -> None:
    state(flow, "Trigger")["properties"]["offset"]["x"] = "left"


BROKEN: list[tuple[Breakage, str | None, str | None, str]] = [
    (drop_body, "bye", "body", "required property missing"),
    (voice_widget, "bye", None, "widget type 'say-play' is voice-only"),
    (unknown_widget, "bye", None, "unknown widget type 'send-fax'"),
    (dangling_next, "greet", "transitions[1].next", "names no state: 'nowhere'"),
    (duplicate_name, "support", None, "duplicate state name"),
    (bad_initial_state, None, "initial_state", "names no state: 'Start'"),
    (unreachable, "bye", None, "unreachable from initial_state 'Trigger'"),
    (unknown_event, "support", "transitions[2].event", "has no event 'delivered'"),
    (bad_property_value, "greet", "timeout", "is not of type"),
    (bad_operator, "route", "transitions[1].conditions[0].type", "unknown operator 'equals'"),
    (match_without_conditions, "route", "transitions[1].conditions", "needs conditions"),
    (liquid_syntax, "bye", "body", "Liquid syntax error"),
    (liquid_unknown_filter, "greet", "body", "unknown filter 'upcse'"),
    (
        liquid_in_condition,
        "route",
        "transitions[1].conditions[0].arguments[0]",
        "Liquid syntax error",
    ),
    (missing_event, "greet", "transitions[0].event", "required property missing"),
    (misspelled_key, "greet", "transitions[0].nxt", "unknown property"),
    (missing_states, None, "states", "required property missing"),
    (bad_offset, "Trigger", "properties.offset.x", "is not valid"),
]


@pytest.mark.parametrize(
    ("breakage", "state_name", "prop", "message"), BROKEN, ids=[b[0].__name__ for b in BROKEN]
)
def test_broken_flow_is_reported_where_it_breaks(
    breakage: Breakage, state_name: str | None, prop: str | None, message: str
) -> None:
    flow = greeting()
    breakage(flow)
    issues = validate_flow(flow, file=FILE, warnings=True)
    located = [i for i in issues if i.state == state_name and i.property == prop]
    assert located, [str(i) for i in issues]
    assert any(message in i.message for i in located), [str(i) for i in issues]
    assert all(str(i).startswith(f"{FILE}: ") for i in issues)


# What Studio itself publishes and runs: warnings, not errors (issue 18).
WARNINGS = {unreachable, liquid_syntax, liquid_unknown_filter, liquid_in_condition}


@pytest.mark.parametrize(
    ("breakage", "state_name", "prop", "message"), BROKEN, ids=[b[0].__name__ for b in BROKEN]
)
def test_only_what_cannot_run_is_an_error(
    breakage: Breakage, state_name: str | None, prop: str | None, message: str
) -> None:
    flow = greeting()
    breakage(flow)
    located = [
        i
        for i in validate_flow(flow, file=FILE, warnings=True)
        if i.state == state_name and i.property == prop and message in i.message
    ]
    expected = "warning" if breakage in WARNINGS else "error"
    assert {i.severity for i in located} == {expected}, [str(i) for i in located]
    errors = validate_flow(flow, file=FILE)  # what loading and publishing go by
    assert all(i.is_error for i in errors)
    assert bool(errors) == (breakage not in WARNINGS), [str(i) for i in errors]


def test_a_warning_says_so_after_file_state_and_property() -> None:
    flow = greeting()
    liquid_syntax(flow)
    (issue,) = validate_flow(flow, file=FILE, warnings=True)
    assert str(issue).startswith(
        "flows/x.json: state 'bye': property 'body': warning: Liquid syntax error: "
    )


def test_voice_widget_message_names_state_and_widget_type() -> None:
    flow = greeting()
    voice_widget(flow)
    (issue,) = validate_flow(flow, file=FILE)
    assert "'bye'" in issue.message and "'say-play'" in issue.message


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "states": [\n    {"name": "a",}\n  ]\n}\n', encoding="utf-8")
    definition, issues = load_flow_file(path)
    assert definition is None
    (issue,) = issues
    assert str(issue).startswith(f"{path}: invalid JSON at line 3")


def test_unreadable_file_is_an_issue(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    definition, issues = load_flow_file(path)
    assert definition is None
    assert [i.file for i in issues] == [str(path)]
    assert "cannot read file" in issues[0].message


def test_json_that_is_not_an_object_is_an_issue(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[]", encoding="utf-8")
    assert load_flow_file(path)[1][0].message == "a flow definition must be a JSON object"


def test_invalid_flow_file_still_returns_its_definition(tmp_path: Path) -> None:
    flow = greeting()
    unknown_widget(flow)
    path = tmp_path / "x.json"
    path.write_text(json.dumps(flow), encoding="utf-8")
    definition, issues = load_flow_file(path)
    assert definition == flow
    assert [str(i) for i in issues] == [f"{path}: state 'bye': unknown widget type 'send-fax'"]
