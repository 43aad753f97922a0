"""Uploads on both surfaces (the app API and the web chat): the bytes decide the type, files are
served so that none can run script on our origin, and THREADLINE_MAX_UPLOAD_BYTES is enforced
while the body streams in."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import REPO, ChatClient, ServerProcess
from tests.webchat.conftest import write_png

MiB = 1024 * 1024
SERVER_CAP = MiB  # THREADLINE_MAX_UPLOAD_BYTES of the server under test
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
    b"<script>alert(document.domain)</script></svg>"
)
HTML = b"<!doctype html><html><body><script>alert(document.domain)</script></body></html>"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
BOUNDARY = "threadline-test-boundary"


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The default app (no secret, 10 MiB max_upload_bytes) and the default web chat account
    (10 MiB upload_max_bytes), under a server-wide upload cap of 1 MiB."""
    root = tmp_path_factory.mktemp("uploads")
    flows = root / "flows"
    flows.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows / "greeting.json")
    server = ServerProcess(root / "data", flows, {"THREADLINE_MAX_UPLOAD_BYTES": str(SERVER_CAP)})
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def http(upload_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=upload_server.base, timeout=30) as client:
        yield client


async def app_headers(http: httpx.AsyncClient, user_id: str) -> dict[str, str]:
    body = {"app_id": "default", "user_id": user_id}
    session = await http.post("/api/app/v1/sessions", json=body)
    assert session.status_code == 201, session.text
    return {"Authorization": f"Bearer {session.json()['session_token']}"}


async def webchat_headers(server: ServerProcess) -> dict[str, str]:
    chat = await ChatClient.connect(server.ws_url)
    await chat.close()
    return {"Authorization": f"Bearer {chat.session['token']}"}


async def app_upload(
    http: httpx.AsyncClient, headers: dict[str, str], body: bytes, claimed: str, filename: str
) -> httpx.Response:
    return await http.post(
        "/api/app/v1/uploads",
        content=body,
        params={"filename": filename},
        headers={**headers, "Content-Type": claimed},
    )


async def webchat_upload(
    http: httpx.AsyncClient, headers: dict[str, str], body: bytes, claimed: str, filename: str
) -> httpx.Response:
    files = {"file": (filename, body, claimed)}
    return await http.post("/channels/webchat/uploads", files=files, headers=headers)


def stored_files(server: ServerProcess) -> set[Path]:
    """Every file under the data directory's upload folders (both surfaces)."""
    return {
        path
        for folder in ("app-uploads", "uploads")
        if (server.data_dir / folder).exists()
        for path in (server.data_dir / folder).iterdir()
    }


def assert_served_safely(response: httpx.Response, disposition: str) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith(disposition)
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


# --- the type comes from the bytes ----------------------------------------------------------


async def test_app_svg_with_script_is_refused(
    http: httpx.AsyncClient, upload_server: ServerProcess
) -> None:
    headers = await app_headers(http, "svg-author")
    before = stored_files(upload_server)
    refused = await app_upload(http, headers, SVG, "image/svg+xml", "a.svg")
    assert refused.status_code == 415, refused.text
    assert refused.json()["error"]["code"] == "unsupported_media_type"
    assert stored_files(upload_server) == before


async def test_app_html_claimed_as_png_is_refused(
    http: httpx.AsyncClient, upload_server: ServerProcess
) -> None:
    headers = await app_headers(http, "html-author")
    before = stored_files(upload_server)
    refused = await app_upload(http, headers, HTML, "image/png", "cat.png")
    assert refused.status_code == 415, refused.text
    assert stored_files(upload_server) == before


async def test_app_png_is_served_inline_in_a_sandbox(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    png = write_png(tmp_path / "pic.png").read_bytes()
    headers = await app_headers(http, "png-author")
    # The claim is ignored both ways: a real PNG sent as octet-stream is still a PNG.
    uploaded = await app_upload(http, headers, png, "application/octet-stream", "pic.png")
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["content_type"] == "image/png"
    served = await http.get(uploaded.json()["url"])
    assert_served_safely(served, "inline")
    assert served.headers["content-type"] == "image/png"
    assert served.content == png


async def test_app_pdf_is_served_as_an_attachment(http: httpx.AsyncClient) -> None:
    headers = await app_headers(http, "pdf-author")
    uploaded = await app_upload(http, headers, PDF, "application/pdf", "invoice.pdf")
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["content_type"] == "application/pdf"
    served = await http.get(uploaded.json()["url"])
    assert_served_safely(served, "attachment")
    assert served.headers["content-type"] == "application/pdf"
    assert 'filename="invoice.pdf"' in served.headers["content-disposition"]


# Audio and video as phones record them: the default app accepts video/* and audio/*.
MEDIA = [
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(64), "video/mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + bytes(64), "video/quicktime"),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + bytes(64), "audio/mp4"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(64), "audio/mpeg"),
    (b"\xff\xfb\x90\x64" + bytes(64), "audio/mpeg"),
    (b"\xff\xf1\x50\x80" + bytes(64), "audio/aac"),
    (b"OggS\x00\x02" + bytes(64), "audio/ogg"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64), "audio/wav"),
    (b"#!AMR\n" + bytes(64), "audio/amr"),
]


@pytest.mark.parametrize(("body", "content_type"), MEDIA, ids=[t for _, t in MEDIA])
async def test_app_audio_and_video_are_recognised(
    http: httpx.AsyncClient, body: bytes, content_type: str
) -> None:
    headers = await app_headers(http, "media-author")
    uploaded = await app_upload(http, headers, body, "application/octet-stream", "clip")
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["content_type"] == content_type
    served = await http.get(uploaded.json()["url"])
    assert_served_safely(served, "inline")
    assert served.headers["content-type"] == content_type


async def test_app_svg_stored_before_is_not_served_inline(
    http: httpx.AsyncClient, upload_server: ServerProcess
) -> None:
    """An upload stored by an earlier release, which trusted the claimed type."""
    upload_id = "UP" + "5" * 32
    (upload_server.data_dir / "app-uploads" / upload_id).write_bytes(SVG)
    with sqlite3.connect(upload_server.data_dir / "threadline.db") as db:
        db.execute(
            "INSERT INTO app_uploads (id, app_id, user_id, content_type, filename, size,"
            " created_at) VALUES (?, 'default', 'old-user', 'image/svg+xml', 'a.svg', ?, ?)",
            (upload_id, len(SVG), time.time()),
        )
    served = await http.get(f"/api/app/v1/uploads/{upload_id}")
    assert_served_safely(served, "attachment")
    assert "svg" not in served.headers["content-type"]


async def test_webchat_svg_is_refused(
    http: httpx.AsyncClient, upload_server: ServerProcess
) -> None:
    headers = await webchat_headers(upload_server)
    before = stored_files(upload_server)
    for claimed in ("image/svg+xml", "text/plain"):
        refused = await webchat_upload(http, headers, SVG, claimed, "a.svg")
        assert refused.status_code == 415, refused.text
    html = await webchat_upload(http, headers, HTML, "image/png", "cat.png")
    assert html.status_code == 415, html.text
    assert stored_files(upload_server) == before


async def test_webchat_files_are_served_in_a_sandbox(
    http: httpx.AsyncClient, upload_server: ServerProcess, tmp_path: Path
) -> None:
    headers = await webchat_headers(upload_server)
    png = write_png(tmp_path / "pic.png").read_bytes()
    image = await webchat_upload(http, headers, png, "text/html", "pic.html")
    assert image.status_code == 201, image.text
    assert image.json()["filename"] == "pic.html.png"  # the download name follows the bytes
    assert_served_safely(await http.get(image.json()["url"]), "inline")
    pdf = await webchat_upload(http, headers, PDF, "application/pdf", "invoice.pdf")
    assert pdf.status_code == 201, pdf.text
    assert_served_safely(await http.get(pdf.json()["url"]), "attachment")
    text = await webchat_upload(http, headers, "héllo, 1 < 2\n".encode(), "text/html", "n.txt")
    assert text.status_code == 201, text.text
    served = await http.get(text.json()["url"])
    assert_served_safely(served, "attachment")
    assert served.headers["content-type"].startswith("text/plain")


async def test_webchat_svg_stored_before_is_not_served_inline(
    http: httpx.AsyncClient, upload_server: ServerProcess
) -> None:
    upload_id = "S" * 32
    folder = upload_server.data_dir / "uploads"
    folder.mkdir(exist_ok=True)
    (folder / upload_id).write_bytes(SVG)
    meta = {
        "token_hash": "0" * 64,
        "content_type": "image/svg+xml",
        "filename": "a.svg",
        "size": len(SVG),
        "url": f"{upload_server.base}/webchat/uploads/{upload_id}",
        "conversation_id": "CV0",
    }
    (folder / f"{upload_id}.json").write_text(json.dumps(meta))
    served = await http.get(f"/webchat/uploads/{upload_id}")
    assert_served_safely(served, "attachment")
    assert "svg" not in served.headers["content-type"]


# --- THREADLINE_MAX_UPLOAD_BYTES, enforced while the body streams -----------------------------


class Body:
    """A chunked request body (no Content-Length) that counts what the client got to send."""

    def __init__(self, total: int, head: bytes = b"", tail: bytes = b"") -> None:
        self.total = total
        self.head = head
        self.tail = tail
        self.sent = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.head
        chunk = b"\x89PNG\r\n\x1a\n" + bytes(64 * 1024 - 8)
        while self.sent < self.total:
            self.sent += len(chunk)
            yield chunk
        yield self.tail


def multipart(total: int) -> Body:
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    return Body(total, head, f"\r\n--{BOUNDARY}--\r\n".encode())


async def assert_refused_and_healthy(
    response: httpx.Response, server: ServerProcess, before: set[Path]
) -> None:
    assert response.status_code == 413, response.text
    assert response.json()["error"]["message"]
    assert stored_files(server) == before
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as fresh:
        assert (await fresh.get("/healthz")).status_code == 200


async def test_app_upload_over_the_server_cap_is_refused(
    http: httpx.AsyncClient, upload_server: ServerProcess
) -> None:
    headers = await app_headers(http, "big-author")
    before = stored_files(upload_server)
    declared = await app_upload(http, headers, b"\x89PNG\r\n\x1a\n" + bytes(2 * MiB), "", "b.png")
    await assert_refused_and_healthy(declared, upload_server, before)
    body = Body(3 * MiB)
    chunked = await http.post(
        "/api/app/v1/uploads", content=body.chunks(), headers={**headers, "Content-Type": ""}
    )
    assert "content-length" not in chunked.request.headers
    await assert_refused_and_healthy(chunked, upload_server, before)


async def test_webchat_upload_over_the_server_cap_is_refused(
    http: httpx.AsyncClient, upload_server: ServerProcess
) -> None:
    headers = await webchat_headers(upload_server)
    before = stored_files(upload_server)
    png = b"\x89PNG\r\n\x1a\n" + bytes(2 * MiB)
    declared = await webchat_upload(http, headers, png, "image/png", "b.png")
    await assert_refused_and_healthy(declared, upload_server, before)
    body = multipart(3 * MiB)
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    chunked = await http.post(
        "/channels/webchat/uploads",
        content=body.chunks(),
        headers={**headers, "Content-Type": content_type},
    )
    assert "content-length" not in chunked.request.headers
    await assert_refused_and_healthy(chunked, upload_server, before)


async def test_the_widget_is_told_the_effective_limit(http: httpx.AsyncClient) -> None:
    config = (await http.get("/webchat/config", params={"channel": "default"})).json()
    assert config["uploads"]["max_bytes"] == SERVER_CAP  # not the account's 10 MiB


ENDLESS = 64 * MiB  # far more than the cap, the discard allowance and loopback socket buffers


async def post_endless(
    http: httpx.AsyncClient, url: str, body: Body, headers: dict[str, str]
) -> int | None:
    """The status answered, or None when the connection closed before the client read it."""
    try:
        return (await http.post(url, content=body.chunks(), headers=headers)).status_code
    except httpx.TransportError:
        return None


async def test_an_endless_chunked_upload_is_cut_off(
    http: httpx.AsyncClient, upload_server: ServerProcess
) -> None:
    """The server stops taking a refused body: after the cap it reads and discards a bounded
    amount more (so that clients still get to read the 413), then closes the connection, so the
    client cannot push the whole body, neither into a buffer nor into a drain."""
    before = stored_files(upload_server)
    app = Body(ENDLESS)
    headers = {**await app_headers(http, "endless"), "Content-Type": "image/png"}
    assert await post_endless(http, "/api/app/v1/uploads", app, headers) in (413, None)
    assert app.sent < ENDLESS // 2
    webchat = multipart(ENDLESS)
    headers = {
        **await webchat_headers(upload_server),
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    assert await post_endless(http, "/channels/webchat/uploads", webchat, headers) in (413, None)
    assert webchat.sent < ENDLESS // 2
    assert stored_files(upload_server) == before
    async with httpx.AsyncClient(base_url=upload_server.base, timeout=10) as fresh:
        assert (await fresh.get("/healthz")).status_code == 200
