"""The contact-center example flow validates and its script plays in the simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import widgets
from server.flows import script as scripts
from server.flows.simulator import Simulator
from server.flows.validation import load_flow_file
from tests.server.conftest import REPO
from widgets import REGISTRY

FLOW = REPO / "flows" / "contact_center.json"
SCRIPT = REPO / "flows" / "contact_center.script"


def test_contact_center_flow_validates() -> None:
    definition, issues = load_flow_file(FLOW)
    assert definition is not None
    assert [str(issue) for issue in issues] == []


def test_contact_center_script_plays_self_service() -> None:
    definition, issues = load_flow_file(FLOW)
    assert definition is not None and not issues
    run = scripts.ScriptRun(Simulator(definition, name="contact_center"), show=lambda _: None)
    instructions = scripts.parse_script(SCRIPT.read_text(encoding="utf-8"))
    assert run.run(instructions) is None
    assert run.checked == 7


def test_contact_center_intents_have_ten_examples_or_more() -> None:
    definition, _ = load_flow_file(FLOW)
    assert definition is not None
    triage = next(s for s in definition["states"] if s["type"] == "bot-triage")
    intents = {i["name"]: i["examples"] for i in triage["properties"]["intents"]}
    assert set(intents) == {
        "billing",
        "technical_support",
        "sales",
        "order_status",
        "talk_to_person",
    }
    assert all(len(examples) >= 10 for examples in intents.values())


@pytest.fixture
def send_to_agent_registered() -> Iterator[None]:
    # Until widgets/__init__.py lists send-to-agent (issue 6a), register its module for this test.
    from widgets import send_to_agent

    added = send_to_agent.WIDGET.type not in REGISTRY
    widgets.register(send_to_agent.WIDGET)
    yield
    if added:
        del REGISTRY[send_to_agent.WIDGET.type]


def test_flow_and_script_with_send_to_agent_module(send_to_agent_registered: None) -> None:
    definition, issues = load_flow_file(FLOW)
    assert definition is not None and [str(i) for i in issues] == []
    run = scripts.ScriptRun(Simulator(definition, name="contact_center"), show=lambda _: None)
    assert run.run(scripts.parse_script(SCRIPT.read_text(encoding="utf-8"))) is None
    assert run.checked == 7
