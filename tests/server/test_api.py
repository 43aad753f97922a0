"""The admin REST API, health and metrics of a real server."""

from __future__ import annotations

from tests.server.conftest import ChatClient, ServerProcess


async def test_api_requires_the_admin_token(server: ServerProcess) -> None:
    for path in ("/api/v1/conversations", "/api/v1/conversations/CVx", "/api/v1/executions/FNx"):
        missing = server.api(path, token=None)
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthenticated"
        wrong = server.api(path, token="wrong")
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "invalid_token"


async def test_conversations_messages_and_step_log(server: ServerProcess) -> None:
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hello")
    await chat.bot()
    await chat.say("order 1234")
    await chat.bot()
    listing = server.api("/api/v1/conversations").json()
    assert listing["total"] == 1
    conversation = listing["conversations"][0]
    assert conversation["id"] == chat.session["conversation_id"]
    assert conversation["channel"] == "webchat" and conversation["status"] == "bot"
    detail = server.api(f"/api/v1/conversations/{conversation['id']}").json()
    assert [m["direction"] for m in detail["messages"]] == [
        "inbound",
        "outbound",
        "inbound",
        "outbound",
    ]
    assert [m["seq"] for m in detail["messages"]] == [1, 2, 3, 4]
    execution = server.api(f"/api/v1/executions/{detail['executions'][0]['id']}").json()
    path = [(s["from"], s["event"], s["to"]) for s in execution["steps"]]
    assert path == [
        # A web chat is a conversation: its flow starts as Studio starts one attached to
        # Conversations (the greeting wires both message events to the same widget).
        ("Trigger", "incomingConversationMessage", "greet"),
        ("greet", "incomingMessage", "route_need"),
        ("route_need", "match", "set_order"),
        ("set_order", "next", "confirm"),
    ]
    assert execution["context"]["flow"]["variables"]["topic"] == "order_status"
    assert execution["status"] == "active" and execution["state"] == "confirm"
    assert server.api("/api/v1/conversations/CVnope").status_code == 404
    assert server.api("/api/v1/conversations?limit=0").status_code == 400
    await chat.close()


async def test_health_metrics_and_openapi(server: ServerProcess) -> None:
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hello")
    await chat.bot()
    await chat.close()
    assert server.api("/healthz", token=None).json() == {"status": "ok"}
    metrics = server.api("/metrics", token=None).text
    assert 'threadline_messages_inbound_total{channel="webchat"} 1.0' in metrics
    assert 'threadline_messages_outbound_total{channel="webchat",outcome="ok"} 1.0' in metrics
    assert "threadline_flow_step_seconds_count" in metrics
    spec = server.api("/api/v1/openapi.json", token=None).json()
    assert spec["openapi"].startswith("3.") and "/api/v1/executions/{execution_id}" in spec["paths"]
