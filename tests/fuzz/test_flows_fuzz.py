"""Flow JSON (docs/flows.md) under hostile definitions: files, the CLI and the flows API.

Seeds are the flows a fresh install runs (flows/*.json) and real Twilio Studio exports
(/work/shared/fixtures/studio), with a few nodes broken; beside them arbitrary JSON, text that
is not JSON, and documents nested past the bound. What is checked:

- loading a flow file (what ``threadline serve``, its file watcher and ``threadline flows
  validate`` do) never raises: a file is a valid flow or a list of issues, and the CLI exits 0
  exactly when there are none;
- a definition validation accepts compiles, and runs in the engine without an exception;
- ``POST /api/v1/flows/validate`` answers what the loader's validation says, or a 4xx;
- ``PUT /api/v1/flows/NAME`` publishes whole or not at all: after a 2xx the API and the file
  hold the definition as sent, one version more; after a 4xx both are as they were.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import widgets
from server.cli import main as threadline
from server.engine.flow import compile_flow
from server.flows.loader import load_flow_dir
from server.flows.simulator import RecordedResponse, Simulator
from server.flows.validation import load_flow_file, validate_flow
from tests.fuzz.strategies import deep_documents, json_values, mutated, raw_bodies
from tests.fuzz.support import (
    ADMIN,
    WatchedServer,
    assert_error_body,
    assert_not_5xx,
    brief,
    fixtures_dir,
    fuzz,
    tally,
)
from tests.server.conftest import REPO

SEED_FILES = [
    *sorted((REPO / "flows").glob("*.json")),
    *sorted((fixtures_dir() / "studio").glob("*.json")),
]
SEEDS: list[Any] = [
    json.loads(path.read_text()) for path in SEED_FILES if not path.name.endswith(".schema.json")
]
DEEP_PROPERTIES = {
    "initial_state": "Trigger",
    "states": [
        {"name": "Trigger", "type": "trigger", "properties": json.loads("[" * 900 + "]" * 900)}
    ],
}

definitions = st.sampled_from(SEEDS).flatmap(mutated)
file_bodies = st.one_of(
    definitions.map(lambda value: json.dumps(value).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    raw_bodies,
    deep_documents.map(str.encode),
    st.just(b'{"initial_state": NaN, "states": []}'),
)


@pytest.fixture(scope="module")
def flow_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-flow-files")


def cli_validate(path: Path) -> tuple[int, str]:
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        code = threadline(["flows", "validate", str(path)])
    return code, output.getvalue()


@fuzz(120)
@given(body=file_bodies)
# Found by this test: a file nested 5,000 levels deep raised RecursionError (the CLI died with a
# traceback and ``threadline serve`` did not start); one 900 levels deep validated, then could
# be neither compiled nor stored.
@example(body=b"[" * 5000 + b"]" * 5000)
@example(body=json.dumps(DEEP_PROPERTIES).encode())
def test_any_flow_file_is_a_flow_or_a_list_of_issues(flow_dir: Path, body: bytes) -> None:
    path = flow_dir / "fuzzed.json"
    path.write_bytes(body)
    definition, issues = load_flow_file(path)
    code, output = cli_validate(path)
    if issues:
        assert code == 1, output
        assert all(issue.file == str(path) and issue.message for issue in issues), issues
        tally("issues")
    else:
        assert code == 0, output
        assert isinstance(definition, dict)
        compile_flow(definition, widgets.REGISTRY, sid="FWfuzz", name="fuzzed")
        tally("a valid flow")
    # One bad file never keeps the others from loading.
    (flow_dir / "greeting.json").write_text((REPO / "flows" / "greeting.json").read_text())
    assert "greeting" in load_flow_dir(flow_dir).flows


@fuzz(120)
@given(definition=definitions)
# Found by this test: bot-triage intents that are not objects crashed validation.
@example(
    definition={
        "initial_state": "Trigger",
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [{"event": "incomingMessage", "next": "bot"}],
            },
            {
                "name": "bot",
                "type": "bot-triage",
                "transitions": [],
                "properties": {"intents": [1.5]},
            },
        ],
    }
)
def test_a_definition_that_validates_compiles_and_runs(definition: Any) -> None:
    if not isinstance(definition, dict):
        return
    issues = validate_flow(definition, file="fuzzed")
    if issues:
        tally("issues")
        return
    tally("valid")
    compile_flow(definition, widgets.REGISTRY, sid="FWfuzz", name="fuzzed")
    simulator = Simulator(definition, name="fuzzed")
    for _ in range(20):  # no network: every HTTP call gets a canned answer
        simulator.record_http(RecordedResponse(200, '{"ok": true}', "application/json"))
    simulator.customer_says("hello")
    simulator.customer_says("1")


# --- the flows API ------------------------------------------------------------------------------

NAME = "fuzz-flows"
definition_bodies = definitions.map(lambda value: json.dumps(value).encode())
bodies = st.one_of(
    definition_bodies,
    definition_bodies,  # twice: most bodies are near-valid flows, which reach the publishing
    st.sampled_from(SEEDS).map(lambda value: json.dumps(value).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    raw_bodies,
)


def issue_triples(issues: list[Any]) -> list[tuple[Any, Any, str]]:
    return [(i.state, i.property, i.message) for i in issues]


@fuzz(150)
@given(body=bodies)
def test_the_validate_endpoint_answers_what_the_loader_says(
    server: WatchedServer, body: bytes
) -> None:
    response = server.http.post(
        "/api/v1/flows/validate",
        content=body,
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    tally(f"answered {response.status_code}")
    assert_not_5xx(response, body)
    if response.status_code != 200:
        assert_error_body(response, body)
        return
    answer = response.json()
    issues = validate_flow(orjson.loads(body), file="request", warnings=True)
    got = [(i["state"], i["property"], i["message"]) for i in answer["issues"]]
    assert got == issue_triples(issues), brief(body)
    assert [i["severity"] for i in answer["issues"]] == [i.severity for i in issues]
    assert answer["valid"] is not any(i.is_error for i in issues)  # warnings leave it valid
    server.assert_healthy(body)


def live(server: WatchedServer) -> tuple[int, Any, bytes | None]:
    """The flow as the API and the flows directory hold it: (version, definition, file)."""
    response = server.http.get(f"/api/v1/flows/{NAME}", headers=ADMIN)
    file = server.process.flows_dir / f"{NAME}.json"
    stored = file.read_bytes() if file.exists() else None
    if response.status_code == 404:
        return 0, None, stored
    assert response.status_code == 200, response.text
    return response.json()["version"], response.json()["definition"], stored


@fuzz(120)
@given(body=bodies)
def test_a_publish_is_whole_or_changes_nothing(server: WatchedServer, body: bytes) -> None:
    version, definition, file = live(server)
    response = server.http.put(
        f"/api/v1/flows/{NAME}", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    tally(f"answered {response.status_code}")
    assert_not_5xx(response, body)
    after = live(server)
    if response.is_success:
        sent = orjson.loads(body)
        new_version, new_definition, new_file = after
        assert new_definition == sent, "the API does not serve what was published"
        assert new_file is not None and json.loads(new_file) == sent, "the file is not whole"
        created = response.json()["created"]
        assert new_version == (version + 1 if created else version), (version, after[0])
        assert response.status_code == (201 if created else 200)
    else:
        assert_error_body(response, body)
        assert after == (version, definition, file), "a refused publish changed the flow"
    server.assert_healthy(body)


names = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["..", "../greeting", "a/b", "greeting.json", "x" * 65, "%2e%2e", "con"]),
)


@fuzz(60)
@given(name=names)
def test_any_flow_name_gets_an_answer_and_stays_in_the_flows_directory(
    server: WatchedServer, name: str
) -> None:
    outside = {p for p in server.process.flows_dir.parent.rglob("*") if p.suffix == ".json"}
    response = server.http.put(
        f"/api/v1/flows/{quote(name, safe='')}", json=SEEDS[0], headers=ADMIN
    )
    tally(f"answered {response.status_code}")
    assert_not_5xx(response, name)
    if response.is_client_error:  # (an empty name is redirected to the flows list: a 307)
        assert_error_body(response, name)
    created = {p for p in server.process.flows_dir.parent.rglob("*") if p.suffix == ".json"}
    assert {p.parent for p in created - outside} <= {server.process.flows_dir}, name
    server.assert_healthy(name)
