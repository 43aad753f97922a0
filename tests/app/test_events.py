"""App events: recorded on the contact's journey; they resume or start flows."""

from __future__ import annotations

from typing import Any

import httpx

from tests.app.conftest import AppUser
from tests.server.conftest import ServerProcess


async def _event(user: AppUser, name: str, **properties: object) -> httpx.Response:
    return await user.http.post(
        "/api/app/v1/events",
        json={"name": name, "properties": properties},
        headers=user.headers,
    )


def _app_events(server: ServerProcess, contact_id: str) -> list[dict[str, Any]]:
    response = server.api(f"/api/v1/contacts/{contact_id}/events?type=app.event")
    assert response.status_code == 200
    return response.json()["events"]


async def test_an_event_resumes_the_flow_waiting_for_it(
    http: httpx.AsyncClient, app_server: ServerProcess
) -> None:
    user = await AppUser.start(http, "u-wait", app_version="3.0")
    await user.send("w1", "hello")
    await user.wait_for_text("You run app 3.0")  # the flow now waits for sync_failed
    other = await _event(user, "screen_view", screen="settings")
    assert other.status_code == 202 and other.json()["flow"] is None
    response = await _event(user, "sync_failed", reason="disk full")
    assert response.status_code == 202
    assert response.json()["flow"] == "resumed"
    reply = await user.wait_for_text("Sorry your sync failed")
    assert reply["text"] == "Sorry your sync failed (disk full)"
    events = _app_events(app_server, user.session["contact_id"])
    assert [e["properties"]["name"] for e in events] == ["screen_view", "sync_failed"]
    assert events[1]["properties"] == {
        "name": "sync_failed",
        "app_id": "default",
        "properties": {"reason": "disk full"},
    }
    assert events[1]["channel"] == "app"
    assert events[1]["conversation_id"] == user.session["conversation_id"]


async def test_an_event_starts_the_apps_flow_when_none_is_active(
    http: httpx.AsyncClient, app_server: ServerProcess
) -> None:
    user = await AppUser.start(http, "u-start")
    response = await _event(user, "sync_failed", reason="offline")
    assert response.json()["flow"] == "started"
    assert (await user.wait_for_text("We saw"))["text"] == "We saw sync_failed: offline"
    assert len(_app_events(app_server, user.session["contact_id"])) == 1


async def test_event_errors_and_the_admin_events_api(
    http: httpx.AsyncClient, app_server: ServerProcess
) -> None:
    user = await AppUser.start(http, "u-event-errors")
    bad = await user.http.post(
        "/api/app/v1/events", json={"name": "has space"}, headers=user.headers
    )
    assert bad.status_code == 400 and "'name'" in bad.json()["error"]["message"]
    props = await user.http.post(
        "/api/app/v1/events", json={"name": "x", "properties": [1]}, headers=user.headers
    )
    assert props.status_code == 400 and "'properties'" in props.json()["error"]["message"]
    assert _app_events(app_server, user.session["contact_id"]) == []
    path = f"/api/v1/contacts/{user.session['contact_id']}/events"
    assert app_server.api(path, token=None).status_code == 401
    assert app_server.api("/api/v1/contacts/CTnope/events").status_code == 404
