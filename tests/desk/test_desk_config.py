"""The desk's HTTP side: its files, its settings endpoint and the canned responses file."""

from __future__ import annotations

import httpx
import pytest

from server.web.desk_routes import DEFAULT_DISPOSITIONS, DeskSettingsError, parse_desk_settings
from tests.desk.conftest import make_agent
from tests.server.conftest import ServerProcess


def test_canned_responses_file_forms() -> None:
    plain = parse_desk_settings(["Hello there", {"title": "Bye", "text": "Goodbye!"}])
    assert plain.canned_responses == (
        {"title": "Hello there", "text": "Hello there"},
        {"title": "Bye", "text": "Goodbye!"},
    )
    assert plain.dispositions == DEFAULT_DISPOSITIONS
    full = parse_desk_settings({"responses": [], "dispositions": ["sold"]})
    assert (full.canned_responses, full.dispositions) == ((), ("sold",))
    for bad in ({"dispositions": [""]}, [42], "text", {"responses": {"a": 1}}):
        with pytest.raises(DeskSettingsError):
            parse_desk_settings(bad)


def test_desk_files_and_config_need_a_token(desk_server: ServerProcess) -> None:
    base = desk_server.base
    page = httpx.get(base + "/desk", follow_redirects=True, timeout=10)
    assert page.status_code == 200 and "Threadline agent desk" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert (
        httpx.get(base + "/desk/desk.js", timeout=10)
        .headers["content-type"]
        .startswith("text/javascript")
    )
    assert httpx.get(base + "/desk/secrets.txt", timeout=10).status_code == 404

    assert httpx.get(base + "/api/v1/desk/config", timeout=10).status_code == 401
    bea = make_agent(desk_server, "bea")
    sam = make_agent(desk_server, "sam")
    config = httpx.get(
        base + "/api/v1/desk/config",
        headers={"Authorization": f"Bearer {bea['token']}"},
        timeout=10,
    ).json()
    assert config["supervisor"] is False
    assert config["canned_responses"] == [{"title": "Check", "text": "Let me check that for you."}]
    assert config["dispositions"] == ["resolved", "callback"]
    assert config["agents"] == [{"id": sam["id"], "name": "Sam"}]
    assert config["queues"] == ["default"]
    assert {"name": "break", "routable": False} in config["activities"]
