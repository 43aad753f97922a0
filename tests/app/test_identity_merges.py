"""Which sign-ins end on one contact: verified identities merge, unverified ones never join them.

Every case signs one user id (fresh per case) in through the real app API and the real web chat
socket, then compares the contacts each sign-in landed on.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from channels.app.signature import user_hash
from server.web.webchat_identity import user_hash as webchat_user_hash
from tests.server.conftest import REPO, ChatClient, ServerProcess

SECRETS = {"signed_a": "secret-of-a", "signed_b": "secret-of-b"}
WEBCHAT_SECRET = "secret-of-the-site"
APPS = [
    {"id": "signed_a", "secret": SECRETS["signed_a"]},
    {"id": "signed_b", "secret": SECRETS["signed_b"]},
    {"id": "open_c"},  # no secret: anyone may claim any user id
    {"id": "open_d"},
]

# (case, sign-ins, groups of sign-ins that must share a contact; different groups must not).
# A sign-in is "app:<app id>", "webchat:signed" (Threadline.identify) or "webchat:anonymous".
CASES = [
    ("signed apps share the user", ["app:signed_a", "app:signed_b"], [[0, 1]]),
    (
        "an unsigned app never joins the signed user",
        ["app:signed_a", "app:signed_b", "app:open_c"],
        [[0, 1], [2]],
    ),
    ("an unsigned app first, a signed one after", ["app:open_c", "app:signed_a"], [[0], [1]]),
    ("the same unsigned app twice", ["app:open_c", "app:open_c"], [[0, 1]]),
    ("two unsigned apps stay apart", ["app:open_c", "app:open_d"], [[0], [1]]),
    ("web chat signed user and signed app", ["webchat:signed", "app:signed_a"], [[0, 1]]),
    ("signed app then web chat signed user", ["app:signed_b", "webchat:signed"], [[0, 1]]),
    ("web chat signed user and unsigned app", ["webchat:signed", "app:open_c"], [[0], [1]]),
    (
        "an anonymous visitor is its own contact",
        ["webchat:anonymous", "webchat:anonymous", "app:signed_a"],
        [[0], [1], [2]],
    ),
]


@pytest.fixture(scope="module")
def merge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("merges")
    flows = root / "flows"
    flows.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows / "greeting.json")
    data = root / "data"
    data.mkdir()
    (data / "apps.json").write_text(json.dumps({"apps": APPS}))
    webchat = {"default": {}, "signed": {"identity_secret": WEBCHAT_SECRET}}
    (data / "webchat.json").write_text(json.dumps(webchat))
    server = ServerProcess(data, flows)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def http(merge_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=merge_server.base, timeout=10) as client:
        yield client


async def app_contact(http: httpx.AsyncClient, app_id: str, user_id: str) -> str:
    body = {"app_id": app_id, "user_id": user_id}
    if app_id in SECRETS:
        body["user_hash"] = user_hash(SECRETS[app_id], user_id)
    response = await http.post("/api/app/v1/sessions", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["contact_id"])


async def webchat_contact(server: ServerProcess, user_id: str | None) -> str:
    """The contact of a web chat visitor once they wrote (signed in as ``user_id`` if given)."""
    query = "?channel=default"
    if user_id is not None:
        signature = webchat_user_hash(user_id, WEBCHAT_SECRET)
        query = f"?channel=signed&user_id={user_id}&user_hash={signature}"
    chat = ChatClient(await websockets.connect(server.ws_url + query))
    chat.session = await chat.frame("session")
    await chat.say("hello")
    await chat.bot()
    conversation_id = chat.session["conversation_id"]
    await chat.close()
    visitor = server.api(f"/api/v1/webchat/conversations/{conversation_id}")
    assert visitor.status_code == 200, visitor.text
    return str(visitor.json()["contact"]["id"])


@pytest.mark.parametrize(("case", "sign_ins", "groups"), CASES, ids=[c[0] for c in CASES])
async def test_which_sign_ins_share_a_contact(
    merge_server: ServerProcess,
    http: httpx.AsyncClient,
    case: str,
    sign_ins: list[str],
    groups: list[list[int]],
) -> None:
    user_id = "u-" + uuid.uuid4().hex[:12]
    contacts = []
    for sign_in in sign_ins:
        channel, how = sign_in.split(":")
        if channel == "app":
            contacts.append(await app_contact(http, how, user_id))
        else:
            signed = user_id if how == "signed" else None
            contacts.append(await webchat_contact(merge_server, signed))
    by_group = [{contacts[i] for i in group} for group in groups]
    assert all(len(ids) == 1 for ids in by_group), (case, contacts)
    assert len(set().union(*by_group)) == len(groups), (case, contacts)


async def test_unsigned_identities_are_scoped_to_their_app(
    merge_server: ServerProcess, http: httpx.AsyncClient
) -> None:
    user_id = "u-" + uuid.uuid4().hex[:12]
    unsigned_contact = await app_contact(http, "open_c", user_id)
    signed_contact = await app_contact(http, "signed_a", user_id)
    with contextlib.closing(sqlite3.connect(merge_server.data_dir / "threadline.db")) as db:
        found = db.execute(
            "SELECT contact_id, kind, value, verified FROM identities WHERE value LIKE ?",
            (f"%{user_id}",),
        ).fetchall()
    assert sorted(found) == sorted(
        [
            (unsigned_contact, "app_unsigned", f"open_c:{user_id}", 0),
            (signed_contact, "app", user_id, 1),
        ]
    )


async def test_a_session_made_before_the_app_had_a_secret_is_refused(tmp_path: Path) -> None:
    """Its user id was never signed: it must not speak as the verified user afterwards."""
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows / "greeting.json")
    data = tmp_path / "data"
    data.mkdir()
    apps = data / "apps.json"
    apps.write_text(json.dumps({"apps": [{"id": "late"}]}))
    server = ServerProcess(data, flows)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
            old = await http.post("/api/app/v1/sessions", json={"app_id": "late", "user_id": "u"})
            old_token = old.json()["session_token"]
            server.stop()
            apps.write_text(json.dumps({"apps": [{"id": "late", "secret": "now-signed"}]}))
            server.start()
            bearer = {"Authorization": f"Bearer {old_token}"}
            refused = await http.get("/api/app/v1/messages", headers=bearer)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "invalid_token"
            body = {"app_id": "late", "user_id": "u", "user_hash": user_hash("now-signed", "u")}
            signed = await http.post("/api/app/v1/sessions", json=body)
            assert signed.status_code == 201
            assert signed.json()["contact_id"] != old.json()["contact_id"]
    finally:
        server.stop()
