"""When the conversation row stored with an inbound message is still good when the message's
turn comes, and when the runtime must read it again (a hand-off may have happened meanwhile)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.engine import Execution
from server.runtime.flows import FlowRegistry
from server.runtime.http_client import FlowHttpClient, HttpGuard
from server.runtime.runtime import Runtime
from server.store import Store
from server.store.database import sqlite_url

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    store = await Store.open(sqlite_url(tmp_path))
    flows = FlowRegistry(store)
    assert await flows.load_dir(REPO / "flows") == []
    http = FlowHttpClient(HttpGuard())
    yield Runtime(store, flows, http)
    await http.aclose()
    await store.close()


def _row(status: str = "bot") -> dict[str, Any]:
    return {"id": "CV1", "status": status}


def _waiting_in(runtime: Runtime, state: str) -> None:
    flow = runtime.flows.latest("contact_center")
    assert flow is not None and state in flow.states
    execution = Execution(
        id="FN1",
        flow_sid=flow.sid,
        flow_version=flow.version,
        conversation_id="CV1",
        contact_id="CT1",
        started_at=0.0,
        state=state,
    )
    runtime.active.committed(execution, deepest=True)


async def test_a_new_conversation_is_the_bots(runtime: Runtime) -> None:
    assert runtime._row_still_current(_row(), new_conversation=True)


async def test_an_agents_conversation_is_always_read_again(runtime: Runtime) -> None:
    _waiting_in(runtime, "greet")
    assert not runtime._row_still_current(_row("agent"), new_conversation=False)
    assert not runtime._row_still_current(_row("queued"), new_conversation=True)


async def test_the_row_holds_while_the_flow_waits_outside_a_hand_off(runtime: Runtime) -> None:
    assert not runtime._row_still_current(_row(), new_conversation=False)  # no copy here
    _waiting_in(runtime, "greet")
    assert runtime._row_still_current(_row(), new_conversation=False)


async def test_a_hand_off_under_way_means_reading_again(runtime: Runtime) -> None:
    _waiting_in(runtime, "to_agent")
    assert not runtime._row_still_current(_row(), new_conversation=False)
