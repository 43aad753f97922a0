"""Sessions: created and resumed per app user, signed user ids, Bearer tokens."""

from __future__ import annotations

import httpx

from channels.app.signature import user_hash
from tests.app.conftest import SECRET, AppUser
from tests.server.conftest import ADMIN_TOKEN, ServerProcess


async def test_same_user_resumes_contact_and_conversation_on_another_device(
    http: httpx.AsyncClient, app_server: ServerProcess
) -> None:
    phone = await AppUser.start(http, "u-resume", platform="ios", app_version="1.0")
    tablet = await AppUser.start(http, "u-resume", platform="android", app_version="1.1")
    assert phone.session["resumed"] is False
    assert tablet.session["resumed"] is True
    assert tablet.session["contact_id"] == phone.session["contact_id"]
    assert tablet.session["conversation_id"] == phone.session["conversation_id"]
    assert tablet.session["session_token"] != phone.session["session_token"]
    # Both tokens work; the conversation carries the newest device as context.
    assert (await phone.history())["conversation_id"] == phone.session["conversation_id"]
    detail = app_server.api(f"/api/v1/conversations/{phone.session['conversation_id']}").json()
    assert detail["channel"] == "app" and detail["channel_account"] == "default"
    assert detail["context"]["device"] == {"platform": "android", "app_version": "1.1"}


async def test_push_token_is_kept_out_of_the_flow_context(
    http: httpx.AsyncClient, app_server: ServerProcess
) -> None:
    user = await AppUser.start(http, "u-push", platform="ios", push_token="apns-123")
    detail = app_server.api(f"/api/v1/conversations/{user.session['conversation_id']}").json()
    assert detail["context"]["device"] == {"platform": "ios"}


async def test_signed_app_requires_the_right_user_hash(http: httpx.AsyncClient) -> None:
    url = "/api/app/v1/sessions"
    body = {"app_id": "signed", "user_id": "u-signed"}
    missing = await http.post(url, json=body)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "signature_required"
    wrong = await http.post(url, json={**body, "user_hash": user_hash("other", "u-signed")})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_signature"
    assert "user_hash" in wrong.json()["error"]["message"]
    other_user = await http.post(url, json={**body, "user_hash": user_hash(SECRET, "u-other")})
    assert other_user.status_code == 401
    right = await http.post(url, json={**body, "user_hash": user_hash(SECRET, "u-signed")})
    assert right.status_code == 201
    assert right.json()["session_token"]


async def test_unsigned_app_takes_a_bare_user_id(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/api/app/v1/sessions", json={"app_id": "default", "user_id": "u-bare"}
    )
    assert response.status_code == 201
    assert response.json()["contact_id"].startswith("CT")


async def test_bad_requests_name_the_field(http: httpx.AsyncClient) -> None:
    url = "/api/app/v1/sessions"
    no_user = await http.post(url, json={"app_id": "default"})
    assert no_user.status_code == 400
    assert "'user_id'" in no_user.json()["error"]["message"]
    unknown = await http.post(url, json={"app_id": "nope", "user_id": "u"})
    assert unknown.status_code == 404
    assert "'app_id'" in unknown.json()["error"]["message"]
    bad_device = await http.post(
        url, json={"app_id": "default", "user_id": "u", "device": {"app_version": 5}}
    )
    assert bad_device.status_code == 400
    assert "device.app_version" in bad_device.json()["error"]["message"]
    not_json = await http.post(url, content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 400


async def test_bad_or_missing_token_is_401(http: httpx.AsyncClient) -> None:
    bad = {"Authorization": "Bearer not-a-session"}
    for response in (
        await http.get("/api/app/v1/messages", headers=bad),
        await http.post("/api/app/v1/messages", json={"echo_id": "e", "text": "x"}, headers=bad),
        await http.post("/api/app/v1/events", json={"name": "x"}, headers=bad),
        await http.get("/api/app/v1/messages"),
    ):
        assert response.status_code == 401
        assert response.json()["error"]["code"] in ("invalid_token", "unauthenticated")


async def test_the_api_is_in_the_openapi_document(http: httpx.AsyncClient) -> None:
    document = (await http.get("/api/v1/openapi.json")).json()
    for path in (
        "/api/app/v1/sessions",
        "/api/app/v1/messages",
        "/api/app/v1/uploads",
        "/api/app/v1/events",
        "/api/app/v1/ws",
        "/api/v1/contacts/{contact_id}/events",
    ):
        assert path in document["paths"]
    assert "appSession" in document["components"]["securitySchemes"]


def test_admin_token_is_not_a_session_token(app_server: ServerProcess) -> None:
    assert app_server.api("/api/app/v1/messages", token=ADMIN_TOKEN).status_code == 401
