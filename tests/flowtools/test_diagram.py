"""Flow diagrams: SVG that parses and names every state and event; Mermaid with every transition."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from server.cli import main
from server.flows.diagram import (
    flow_graph,
    mermaid_ids,
    render_mermaid,
    render_svg,
    transition_label,
)
from tests.server.conftest import REPO

STUDIO = REPO.parent / "shared" / "fixtures" / "studio"

FLOWS = [
    REPO / "flows" / "greeting.json",
    REPO / "flows" / "contact_center.json",
    STUDIO / "nps-survey.json",
    STUDIO / "daily-sit-down-parent.json",
    STUDIO / "daily-sit-down-child.json",
]


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def svg_text(svg: str) -> str:
    root = ET.fromstring(svg)  # raises if the SVG is not well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return "\n".join(root.itertext())


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_svg_names_every_state_widget_and_event(path: Path) -> None:
    definition = load(path)
    text = svg_text(render_svg(flow_graph(definition), title=path.stem))
    for state in definition["states"]:
        assert state["name"] in text
        assert state["type"] in text
        for transition in state["transitions"]:
            assert transition["event"] in text
            assert transition_label(transition) in text


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_mermaid_has_every_transition(path: Path) -> None:
    definition = load(path)
    graph = flow_graph(definition)
    ids = mermaid_ids(graph)
    lines = render_mermaid(graph).splitlines()
    assert lines[0] == "flowchart TD"
    for state in definition["states"]:
        assert any(
            line.strip().startswith(f'{ids[state["name"]]}["{state["name"]}') for line in lines
        )
        for transition in state["transitions"]:
            target = ids[transition["next"]] if transition.get("next") else "stop"
            label = transition_label(transition).replace('"', "#quot;")
            assert f'    {ids[state["name"]]} -->|"{label}"| {target}' in lines


def test_split_conditions_are_labelled_with_friendly_names() -> None:
    definition = load(REPO / "flows" / "greeting.json")
    route_need = next(s for s in definition["states"] if s["name"] == "route_need")
    expected: dict[str, list[str]] = {}
    for transition in route_need["transitions"]:
        names = [c["friendly_name"] for c in transition.get("conditions", [])]
        expected.setdefault(transition["next"], []).append(" & ".join(names) or "noMatch")
    graph = flow_graph(definition)
    labels = {e.target: e.labels for e in graph.edges if e.source == "route_need"}
    assert labels == expected
    assert "Billing words" in labels["set_billing"]


def test_an_undefined_target_is_drawn_as_missing() -> None:
    definition = {
        "initial_state": "Trigger",
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "properties": {},
                "transitions": [{"event": "incomingMessage", "next": "nowhere"}],
            },
        ],
    }
    graph = flow_graph(definition)
    assert [(n.name, n.missing) for n in graph.nodes] == [("Trigger", False), ("nowhere", True)]
    assert "nowhere" in svg_text(render_svg(graph))


def test_cli_writes_svg_and_mermaid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg_file = tmp_path / "greeting.svg"
    flows = str(REPO / "flows")
    assert main(["flows", "diagram", "greeting", "--flows", flows, "--output", str(svg_file)]) == 0
    assert "route_need" in svg_text(svg_file.read_text(encoding="utf-8"))
    assert main(["flows", "diagram", "greeting", "--flows", flows, "--format", "mermaid"]) == 0
    assert capsys.readouterr().out.startswith("flowchart TD\n")


def test_cli_refuses_a_file_that_is_no_flow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"states": 3}', encoding="utf-8")
    assert main(["flows", "diagram", str(broken)]) == 2
