"""The Studio fixtures, unchanged, through a real server: web chat in, fake public services out.

The fixtures' URLs point at public hosts; ``THREADLINE_HTTP_REWRITE`` answers them from a fake
HTTP server on 127.0.0.1, the functions file maps the child's function SID to the fake, and the
flow aliases map the parent's Studio subflow SID to the child flow.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import ADMIN_TOKEN, REPO, ChatClient, ServerProcess
from tests.widgets.fake_http import FakeHttp, json_reply

FIXTURES = REPO.parent / "shared" / "fixtures" / "studio"
if not FIXTURES.exists():
    FIXTURES = Path("/work/shared/fixtures/studio")
CHILD_STUDIO_SID = "FW50120385f4d1e8dcf30c0bcd83695969"
FUNCTION_SID = "ZHfb7c1300ed026315a54689e883238968"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def public() -> Iterator[FakeHttp]:
    with FakeHttp() as fake:
        fake.routes[("POST", "/v1/users/validate")] = json_reply({"valid": True})
        fake.routes[("GET", "/v1/users/names")] = json_reply({"name": "ada"})
        fake.routes[("POST", "/v1/message/schedule")] = json_reply({"scheduled": 3})
        fake.routes[("POST", "/write-to-airtable")] = json_reply({"id": "rec1"})
        fake.routes[("POST", "/macros/s/YOUR-ACTUAL-SCRIPT-HERE/exec")] = json_reply({"ok": 1})
        yield fake


def flows_with(tmp_path: Path, *names: str) -> Path:
    target = tmp_path / "studio-flows"
    target.mkdir()
    for name in names:
        shutil.copy(FIXTURES / f"{name}.json", target / f"{name}.json")
    return target


def env_for(tmp_path: Path, fake: FakeHttp, default_flow: str) -> dict[str, str]:
    functions = tmp_path / "functions.json"
    functions.write_text(json.dumps({FUNCTION_SID: fake.origin + "/write-to-airtable"}))
    rewrite = {"ngrok.anthonydellavecchia.com": fake.origin, "script.google.com": fake.origin}
    return {
        "THREADLINE_DEFAULT_FLOW": default_flow,
        "THREADLINE_HTTP_REWRITE": json.dumps(rewrite),
        "THREADLINE_HTTP_ALLOWED_HOSTS": "127.0.0.1",
        "THREADLINE_FLOW_ALIASES": json.dumps({CHILD_STUDIO_SID: "daily-sit-down-child"}),
        "THREADLINE_FUNCTIONS_FILE": str(functions),
    }


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


async def test_nps_survey_from_first_message_to_thank_you(
    tmp_path: Path, server_factory: Any, public: FakeHttp
) -> None:
    flows = flows_with(tmp_path, "nps-survey")
    server: ServerProcess = server_factory(flows, env_for(tmp_path, public, "nps-survey"))
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hi")
    assert "how likely are you to recommend Superclass" in (await chat.bot())["text"]
    await chat.say("eleven")
    assert (await chat.bot())["text"].startswith("I'm sorry, I didn't understand")
    assert "how likely" in (await chat.bot())["text"]
    await chat.say("9")
    assert "any other feedback" in (await chat.bot())["text"]
    await chat.say("More Liquid examples please")
    assert (await chat.bot())["text"].startswith("We value your feedback!")
    posted = public.seen("/macros/s/YOUR-ACTUAL-SCRIPT-HERE/exec")
    assert [(r.method, r.form) for r in posted] == [
        ("POST", {"NPS": ["9 "], "Feedback": ["More Liquid examples please "]})
    ]
    await chat.close()


async def test_daily_sit_down_parent_runs_the_child_subflow(
    tmp_path: Path, server_factory: Any, public: FakeHttp
) -> None:
    flows = flows_with(tmp_path, "daily-sit-down-parent", "daily-sit-down-child")
    server: ServerProcess = server_factory(
        flows, env_for(tmp_path, public, "daily-sit-down-parent")
    )
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hi")
    # validate_caller and get_names answered by the fake; the child asks with the parent's name.
    assert (await chat.bot())["text"] == "ADA what did you do yesterday?"
    await chat.say("wrote tests")
    assert (await chat.bot())["text"] == "ADA what will you do today?"
    await chat.say("wrote tests")  # the same answer: the child's equal_to condition matches
    assert (await chat.bot())["text"].startswith("Weren\u2019t you working on that yesterday?")
    assert (await chat.bot())["text"] == "ADA what impediments do you have?"
    await chat.say("none")
    # The child ran its function and ended; the parent continues with the child's variables.
    end = await chat.bot()
    assert end["text"].startswith("Thanks, ada now get back to work.")
    await chat.say("1")
    assert (await chat.bot())["text"] == "https://airtable.com/shrgxvKyKIJ9pJItw"

    caller = public.seen("/v1/users/names")[0].query["caller"][0]
    assert public.seen("/v1/users/validate")[0].json == {"caller": caller}
    saved = public.seen("/write-to-airtable")[0].form
    assert {k: v[0] for k, v in saved.items() if k != "date"} == {
        "number": caller,
        "yesterday": "wrote tests",
        "today": "wrote tests",
        "impediments": "none",
        "name": "ada",
    }
    # Studio's filters through a real flow: {{ "now" | date: "%Y-%m-%d" }} and upcase above.
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", saved["date"][0])
    conversation_path = f"/api/v1/conversations/{chat.session['conversation_id']}"

    def statuses() -> list[str]:
        return [e["status"] for e in server.api(conversation_path).json()["executions"]]

    wait_for(lambda: statuses() == ["ended", "ended"])  # airtable_link ends on its ``sent``
    executions = server.api(conversation_path).json()["executions"]
    parent = server.api(f"/api/v1/executions/{executions[0]['id']}").json()
    assert ("ask_questions", "completed", "end") in [
        (s["from"], s["event"], s["to"]) for s in parent["steps"]
    ]
    assert parent["context"]["widgets"]["ask_questions"]["name"] == "ada"
    await chat.close()


async def test_subflow_that_is_not_configured_fails_the_widget(
    tmp_path: Path, server_factory: Any, public: FakeHttp
) -> None:
    flows = flows_with(tmp_path, "daily-sit-down-parent")  # no child, no alias
    env = env_for(tmp_path, public, "daily-sit-down-parent")
    env["THREADLINE_FLOW_ALIASES"] = "{}"
    server: ServerProcess = server_factory(flows, env)
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hi")
    await chat.frame("conversation")  # the first message opened it: its id is now known

    def ended() -> bool:
        body = server.api(f"/api/v1/conversations/{chat.session['conversation_id']}").json()
        return bool(body["executions"]) and body["executions"][0]["status"] == "ended"

    wait_for(ended)
    body = server.api(f"/api/v1/conversations/{chat.session['conversation_id']}").json()
    execution = server.api(f"/api/v1/executions/{body['executions'][0]['id']}").json()
    assert execution["steps"][-1]["from"] == "ask_questions"
    assert execution["steps"][-1]["event"] == "failed"
    await chat.close()


REST_FLOW = {
    "description": "REST trigger test",
    "initial_state": "Trigger",
    "states": [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [{"event": "incomingRequest", "next": "remember"}],
            "properties": {},
        },
        {
            "name": "remember",
            "type": "set-variables",
            "transitions": [{"event": "next", "next": "wait"}],
            "properties": {"variables": [{"key": "order", "value": "{{flow.data.order_id}}"}]},
        },
        {
            "name": "wait",
            "type": "wait-for-event",
            "transitions": [{"event": "received"}, {"event": "timeout"}],
            "properties": {"event": "order.shipped", "timeout": "3600"},
        },
    ],
}


async def test_rest_trigger(tmp_path: Path, server_factory: Any, public: FakeHttp) -> None:
    flows = flows_with(tmp_path, "daily-sit-down-parent", "daily-sit-down-child")
    (flows / "rest-wait.json").write_text(json.dumps(REST_FLOW))
    server: ServerProcess = server_factory(
        flows, env_for(tmp_path, public, "daily-sit-down-parent")
    )
    url = server.base + "/api/v1/flows/rest-wait/executions"
    body = {"To": "+14155550100", "From": "+15550002222", "Parameters": '{"order_id": "A-17"}'}
    created = httpx.post(url, json=body, headers=AUTH, timeout=10)
    assert created.status_code == 201, created.text
    execution = created.json()
    assert execution["context"]["flow"]["data"] == {"order_id": "A-17"}
    assert execution["context"]["flow"]["variables"] == {"order": "A-17"}
    assert execution["context"]["contact"]["channel"]["address"] == "+14155550100"
    assert execution["status"] == "active" and execution["state"] == "wait"

    again = httpx.post(url, data=body, headers=AUTH, timeout=10)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "execution_active"
    fetched = server.api(f"/api/v1/flows/rest-wait/executions/{execution['id']}")
    assert fetched.status_code == 200 and fetched.json()["id"] == execution["id"]
    assert server.api(f"/api/v1/flows/nps/executions/{execution['id']}").status_code == 404

    # Form-encoded, WhatsApp addresses, on the Studio parent's incomingRequest branch.
    studio = httpx.post(
        server.base + "/api/v1/flows/daily-sit-down-parent/executions",
        data={"To": "whatsapp:+14155550100", "From": "whatsapp:+15550002222"},
        headers=AUTH,
        timeout=10,
    )
    assert studio.status_code == 201, studio.text
    wait_for(lambda: bool(public.seen("/v1/message/schedule")))
    assert public.seen("/v1/message/schedule")[0].json == {
        "message": "Good morning! It's time for daily sit-down! Reply to enter."
    }

    missing = httpx.post(url, json={"From": "+15550002222"}, headers=AUTH, timeout=10)
    assert missing.status_code == 400 and "'To'" in missing.json()["error"]["message"]
    bad = httpx.post(url, json={**body, "Parameters": "{oops"}, headers=AUTH, timeout=10)
    assert bad.status_code == 400 and "Parameters" in bad.json()["error"]["message"]
    assert httpx.post(url, json=body, timeout=10).status_code == 401
