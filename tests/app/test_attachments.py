"""Attachments: uploads within the app's limits, or URLs with a content type."""

from __future__ import annotations

import httpx

from tests.app.conftest import AppUser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


async def _upload(user: AppUser, body: bytes, content_type: str) -> httpx.Response:
    return await user.http.post(
        "/api/app/v1/uploads",
        content=body,
        params={"filename": "shot.png"},
        headers={**user.headers, "Content-Type": content_type},
    )


async def test_an_upload_becomes_a_media_part(http: httpx.AsyncClient) -> None:
    user = await AppUser.start(http, "u-upload", app_id="small")
    uploaded = await _upload(user, PNG, "image/png")
    assert uploaded.status_code == 201, uploaded.text
    upload = uploaded.json()
    assert upload["size"] == len(PNG) and upload["content_type"] == "image/png"
    fetched = await http.get(upload["url"])
    assert fetched.status_code == 200
    assert fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"
    sent = await user.send("a1", "see this", attachments=[{"upload_id": upload["upload_id"]}])
    assert sent.status_code == 201, sent.text
    parts = sent.json()["message"]["parts"]
    assert parts[0] == {"kind": "text", "text": "see this"}
    assert parts[1]["kind"] == "media"
    assert parts[1]["url"] == upload["url"]
    assert parts[1]["content_type"] == "image/png" and parts[1]["media_kind"] == "image"
    assert parts[1]["filename"] == "shot.png"


async def test_upload_limits(http: httpx.AsyncClient) -> None:
    user = await AppUser.start(http, "u-limits", app_id="small")
    too_big = await _upload(user, b"\x00" * 1001, "image/png")
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "too_large"
    bad_type = await _upload(user, b"MZ\x90\x00", "application/x-msdownload")
    assert bad_type.status_code == 415
    assert "Content-Type" in bad_type.json()["error"]["message"]
    empty = await _upload(user, b"", "image/png")
    assert empty.status_code == 400


async def test_url_attachments_need_an_accepted_content_type(http: httpx.AsyncClient) -> None:
    user = await AppUser.start(http, "u-url", app_id="small")
    photo = {"url": "https://cdn.example.com/p.jpg", "content_type": "image/jpeg"}
    ok = await user.send("u1", attachments=[photo])
    assert ok.status_code == 201
    assert ok.json()["message"]["parts"][0]["url"] == photo["url"]
    refused = await user.send("u2", attachments=[{**photo, "content_type": "video/mp4"}])
    assert refused.status_code == 415
    assert "attachments[0].content_type" in refused.json()["error"]["message"]
    untyped = await user.send("u3", attachments=[{"url": photo["url"]}])
    assert untyped.status_code == 400
    assert "attachments[0].content_type" in untyped.json()["error"]["message"]


async def test_another_users_upload_cannot_be_attached(http: httpx.AsyncClient) -> None:
    owner = await AppUser.start(http, "u-owner", app_id="small")
    upload = (await _upload(owner, PNG, "image/png")).json()
    thief = await AppUser.start(http, "u-thief", app_id="small")
    refused = await thief.send("t1", attachments=[{"upload_id": upload["upload_id"]}])
    assert refused.status_code == 400
    assert "attachments[0].upload_id" in refused.json()["error"]["message"]
