"""The admin and agent REST API under arbitrary JSON bodies.

Login, creating and changing agents, and the REST trigger (JSON and form bodies) get arbitrary
JSON (deep nesting, huge numbers, wrong types), text that is not JSON, and their documented
bodies with a few nodes broken. Each answers 2xx or a 4xx with the JSON error body
``{"error": {"code", "message"}}``, never a 5xx, and the server logs no escaped exception.
A refused request changes nothing: the agents read back through the API as they were, and a
refused trigger leaves no conversation or execution behind. (The flows API has its own module,
test_flows_fuzz.py.)
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from server.store.schema import conversations, executions
from tests.fuzz.strategies import json_values, mutated, raw_bodies, texts
from tests.fuzz.support import (
    ADMIN,
    WatchedServer,
    assert_error_body,
    assert_not_5xx,
    fuzz,
    tally,
)

CUSTOMER = "+14155550111"  # replaced by a fresh number per example: one execution per contact
TRIGGER = "/api/v1/flows/greeting/executions"
AGENT = {
    "name": "Bea",
    "login": "fuzz-bea",
    "password": "secret",
    "roles": ["agent", "supervisor"],
    "attributes": {"languages": ["en"]},
    "capacity": {"webchat": 3},
    "issue_token": True,
}
# (method, path, documented body): the seeds of the mutations.
ENDPOINTS: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/login", {"login": "fuzz-bea", "password": "secret"}),
    ("POST", "/api/v1/agents", AGENT),
    ("PATCH", "/api/v1/agents/{agent}", {k: v for k, v in AGENT.items() if k != "login"}),
    ("POST", TRIGGER, {"To": CUSTOMER, "From": "+14155550100", "Parameters": {"name": "Ann"}}),
]


@pytest.fixture(scope="module")
def agent_id(server: WatchedServer) -> str:
    response = server.http.post("/api/v1/agents", json=AGENT, headers=ADMIN)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def fresh_number() -> str:
    """A number no earlier example used (a contact has one active execution at a time)."""
    return f"+1415{uuid.uuid4().int % 10**7:07d}"


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    method, path, seed = draw(st.sampled_from(ENDPOINTS))
    body = draw(
        st.one_of(
            mutated(seed).map(lambda value: json.dumps(value).encode()),
            json_values.map(lambda value: json.dumps(value).encode()),
            raw_bodies,
        )
    )
    return method, path, body


def agents(server: WatchedServer) -> list[dict[str, Any]]:
    """Every agent as the API shows it."""
    response = server.http.get("/api/v1/agents", headers=ADMIN)
    assert response.status_code == 200, response.text
    return sorted(response.json()["agents"], key=lambda agent: str(agent["id"]))


def counts(database: Engine) -> tuple[int, int]:
    with database.connect() as conn:
        return (
            int(conn.execute(select(func.count()).select_from(conversations)).scalar_one()),
            int(conn.execute(select(func.count()).select_from(executions)).scalar_one()),
        )


def send(
    server: WatchedServer, method: str, path: str, body: bytes, agent_id: str, content_type: str
) -> httpx.Response:
    body = body.replace(CUSTOMER.encode(), fresh_number().encode())
    headers = {**ADMIN, "Content-Type": content_type}
    url = path.replace("{agent}", agent_id)
    return server.http.request(method, url, content=body, headers=headers)


def check(response: httpx.Response, what: Any) -> None:
    tally(f"answered {response.status_code}")
    assert_not_5xx(response, what)
    if not response.is_success:
        assert_error_body(response, what)


@fuzz(200)
@given(request=requests())
# Found by the long run: a patch setting the name to null reached the database (a 500).
@example(request=("PATCH", "/api/v1/agents/{agent}", b'{"name": null}'))
@example(request=("PATCH", "/api/v1/agents/{agent}", b'{"name": 5, "login": ""}'))
def test_any_json_body_gets_an_answer_and_a_refusal_changes_nothing(
    server: WatchedServer, database: Engine, agent_id: str, request: tuple[str, str, bytes]
) -> None:
    method, path, body = request
    agents_before, counts_before = agents(server), counts(database)
    response = send(server, method, path, body, agent_id, "application/json")
    check(response, request)
    if not response.is_success:
        assert agents(server) == agents_before, f"a refused {method} {path} changed an agent"
        if path == TRIGGER and response.status_code == 400:
            assert counts(database) == counts_before, "a refused trigger stored something"
    server.assert_healthy(request)


trigger_forms = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["To", "From", "Parameters"]), texts),
        st.one_of(texts, st.just(CUSTOMER), json_values.map(json.dumps)),
    ),
    max_size=5,
)


@fuzz(60)
@given(pairs=trigger_forms)
def test_any_form_to_the_rest_trigger_gets_an_answer(
    server: WatchedServer, database: Engine, agent_id: str, pairs: list[tuple[str, str]]
) -> None:
    before = counts(database)
    body = urlencode(pairs).encode()
    response = send(server, "POST", TRIGGER, body, agent_id, "application/x-www-form-urlencoded")
    check(response, pairs)
    if response.status_code == 400:
        assert counts(database) == before, "a refused trigger stored something"
    server.assert_healthy(pairs)
