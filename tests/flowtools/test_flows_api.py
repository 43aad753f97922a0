"""The flows REST API on a real server: list, read, versions, validate, publish, diagram."""

from __future__ import annotations

import copy
import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import ADMIN_TOKEN, REPO, ServerProcess

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WATCH = {"THREADLINE_FLOWS_WATCH_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    # One server for the module (tests run in order; publishing ones come last).
    root = tmp_path_factory.mktemp("flows-api")
    flows = root / "flows"
    flows.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows / "greeting.json")
    server = ServerProcess(root / "data", flows, WATCH)
    server.start()
    yield server, flows
    server.stop()


@pytest.fixture
def api_server(served: tuple[ServerProcess, Path]) -> ServerProcess:
    return served[0]


@pytest.fixture
def flows_dir(served: tuple[ServerProcess, Path]) -> Path:
    return served[1]


def greeting(flows_dir: Path) -> dict[str, Any]:
    return json.loads((flows_dir / "greeting.json").read_text())  # type: ignore[no-any-return]


def with_greeting_text(definition: dict[str, Any], text: str) -> dict[str, Any]:
    edited = copy.deepcopy(definition)
    for state in edited["states"]:
        if state["name"] == "greet":
            state["properties"]["body"] = text
    return edited


def test_list_and_read(api_server: ServerProcess, flows_dir: Path) -> None:
    listed = api_server.api("/api/v1/flows").json()["flows"]
    assert [(f["name"], f["version"]) for f in listed] == [("greeting", 1)]
    flow = api_server.api("/api/v1/flows/greeting").json()
    assert flow["sid"].startswith("FW") and flow["version"] == 1
    assert flow["definition"] == greeting(flows_dir)
    assert [v["version"] for v in flow["versions"]] == [1]
    version = api_server.api("/api/v1/flows/greeting/versions/1").json()
    assert version["definition"] == greeting(flows_dir) and version["sid"] == flow["sid"]
    assert api_server.api("/api/v1/flows/nothing").status_code == 404
    assert api_server.api("/api/v1/flows/greeting/versions/9").status_code == 404


def test_validate(api_server: ServerProcess, flows_dir: Path) -> None:
    url = api_server.base + "/api/v1/flows/validate"
    good = httpx.post(url, json=greeting(flows_dir), headers=AUTH)
    assert good.status_code == 200 and good.json() == {"valid": True, "issues": []}
    broken = greeting(flows_dir)
    broken["states"][1]["transitions"][0]["next"] = "nowhere"
    bad = httpx.post(url, json=broken, headers=AUTH).json()
    assert bad["valid"] is False
    assert {
        "state": "greet",
        "property": "transitions[0].next",
        "message": "names no state: 'nowhere'",
        "severity": "error",
    } in bad["issues"]
    not_object = httpx.post(url, content=b"[1, 2]", headers=AUTH)
    assert not_object.status_code == 400 and "error" in not_object.json()
    assert httpx.post(url, content=b"{nope", headers=AUTH).status_code == 400


@pytest.mark.parametrize("name", ["bad.name", "a" * 65, "bad name", "..", "x%00"])
def test_bad_names_are_refused(api_server: ServerProcess, flows_dir: Path, name: str) -> None:
    url = f"{api_server.base}/api/v1/flows/{name}"
    assert httpx.get(url, headers=AUTH).status_code in (400, 404)
    response = httpx.put(url, json=greeting(flows_dir), headers=AUTH)
    assert response.status_code in (400, 404, 405)
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "bad_flow_name"
    assert sorted(p.name for p in flows_dir.iterdir()) == ["greeting.json"]  # nothing written


def test_bad_name_is_400_with_the_field(api_server: ServerProcess, flows_dir: Path) -> None:
    response = httpx.put(
        api_server.base + "/api/v1/flows/bad.name", json=greeting(flows_dir), headers=AUTH
    )
    assert response.status_code == 400
    assert "name" in response.json()["error"]["message"]
    assert api_server.api("/api/v1/flows/" + "a" * 65).status_code == 400


def test_token_required(api_server: ServerProcess, flows_dir: Path) -> None:
    base = api_server.base + "/api/v1/flows"
    requests = [
        ("GET", base, None),
        ("GET", base + "/greeting", None),
        ("GET", base + "/greeting/versions/1", None),
        ("GET", base + "/greeting/diagram.svg", None),
        ("POST", base + "/validate", greeting(flows_dir)),
        ("PUT", base + "/greeting", greeting(flows_dir)),
    ]
    for method, url, body in requests:
        assert httpx.request(method, url, json=body).status_code == 401, url
        wrong = {"Authorization": "Bearer wrong"}
        assert httpx.request(method, url, json=body, headers=wrong).status_code == 401, url


def test_diagram_and_openapi(api_server: ServerProcess) -> None:
    response = api_server.api("/api/v1/flows/greeting/diagram.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    text = "".join(ET.fromstring(response.text).itertext())
    assert "route_need" in text and "Billing words" in text
    paths = api_server.api("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/flows",
        "/api/v1/flows/validate",
        "/api/v1/flows/{name}",
        "/api/v1/flows/{name}/versions/{version}",
        "/api/v1/flows/{name}/diagram.svg",
    ):
        assert path in paths
    assert (
        "put" in paths["/api/v1/flows/{name}"]
        and "422" in paths["/api/v1/flows/{name}"]["put"]["responses"]
    )


def test_publish_valid_and_invalid(api_server: ServerProcess, flows_dir: Path) -> None:
    url = api_server.base + "/api/v1/flows/greeting"
    edited = with_greeting_text(greeting(flows_dir), "Hello from version two!")
    assert api_server.api("/api/v1/flows/greeting").json()["version"] == 1
    published = httpx.put(url, json=edited, headers=AUTH)
    assert published.status_code == 201
    assert published.json()["version"] == 2 and published.json()["created"] is True
    assert json.loads((flows_dir / "greeting.json").read_text()) == edited  # written to flows/
    assert not list(flows_dir.glob(".*.tmp"))  # the temporary file was renamed, not left
    again = httpx.put(url, json=edited, headers=AUTH)
    assert again.status_code == 200 and again.json()["version"] == 2
    read = api_server.api("/api/v1/flows/greeting").json()
    assert read["version"] == 2 and [v["version"] for v in read["versions"]] == [1, 2]
    original = json.loads((REPO / "flows" / "greeting.json").read_text())
    old = api_server.api("/api/v1/flows/greeting/versions/1").json()["definition"]
    assert old == original  # the old version is kept as it was

    invalid = copy.deepcopy(edited)
    invalid["states"][1]["type"] = "say-play"
    refused = httpx.put(url, json=invalid, headers=AUTH)
    assert refused.status_code == 422
    body = refused.json()
    assert body["error"]["code"] == "invalid_flow" and body["valid"] is False
    assert any("voice-only" in issue["message"] for issue in body["issues"])
    assert json.loads((flows_dir / "greeting.json").read_text()) == edited  # untouched
    assert api_server.api("/api/v1/flows/greeting").json()["version"] == 2

    created = httpx.put(api_server.base + "/api/v1/flows/second-flow", json=edited, headers=AUTH)
    assert created.status_code == 201 and created.json()["version"] == 1
    assert (flows_dir / "second-flow.json").exists()
    names = [f["name"] for f in api_server.api("/api/v1/flows").json()["flows"]]
    assert names == ["greeting", "second-flow"]


def test_validate_shows_warnings_and_stays_valid(
    api_server: ServerProcess, flows_dir: Path
) -> None:
    url = api_server.base + "/api/v1/flows/validate"
    published = greeting(flows_dir)
    published["states"][1]["properties"]["body"] = "Booked: {{flow.variables.reservation_id"
    body = httpx.post(url, json=published, headers=AUTH).json()
    assert body["valid"] is True
    (issue,) = body["issues"]
    assert (issue["state"], issue["property"], issue["severity"]) == ("greet", "body", "warning")
    assert issue["message"].startswith("Liquid syntax error")
