"""Scenario 6: time to serve again after a restart with 100,000 waiting executions stored.

The database is filled with conversations whose executions wait in the greeting flow's
``send-and-wait-for-reply`` (with their durable timers), as a busy server leaves them. The
figure is the time from starting the process to the first customer of those conversations
getting the flow's next reply; the baseline is the same restart with an empty database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets

import widgets
from bench.common import Figure
from bench.procs import REPO, Server
from server.engine import Execution, compile_flow, new_context, step
from server.engine.events import Start
from server.flows.loader import flow_sid


def waiting_execution_template() -> dict[str, Any]:
    definition = json.loads((REPO / "flows" / "greeting.json").read_text())
    sid = flow_sid("greeting")
    flow = compile_flow(definition, widgets.REGISTRY, sid=sid, name="greeting", version=1)
    execution = Execution(
        id="FN_ID_",
        flow_sid=sid,
        flow_version=1,
        conversation_id="CV_ID_",
        contact_id="CT_ID_",
        started_at=time.time(),
        context=new_context(
            flow_sid=sid, execution_id="FN_ID_", customer_address="WV_ID_", flow_address="default"
        ),
    )
    result = step(flow, execution, Start("incomingMessage", time.time(), message={"Body": "hi"}))
    assert result.execution.state == "greet"
    return result.execution.to_dict()


def fill(db: Path, count: int) -> list[str]:
    """Insert ``count`` waiting conversations; returns a few of their session tokens."""
    template = json.dumps(waiting_execution_template())
    now = time.time()
    far = now + 30 * 24 * 3600
    sid = flow_sid("greeting")
    tokens: list[str] = []
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous=OFF")
    rows: dict[str, list[tuple[Any, ...]]] = {
        k: []
        for k in (
            "contacts",
            "identities",
            "conversations",
            "messages",
            "executions",
            "timers",
            "sessions",
        )
    }
    for i in range(count):
        key = f"{i:032x}"
        ct, cv, fn, wv = "CT" + key, "CV" + key, "FN" + key, "WV" + key
        token = f"bench-token-{i}"
        if i < 5:
            tokens.append(token)
        data = template.replace("FN_ID_", fn).replace("CV_ID_", cv).replace("CT_ID_", ct)
        data = data.replace("WV_ID_", wv)
        waiting = json.loads(data)["waiting"]
        rows["contacts"].append((ct, None, "{}", now, now))
        rows["identities"].append(("webchat", wv, ct, 0, now))
        rows["conversations"].append(
            (
                cv,
                ct,
                "webchat",
                "default",
                wv,
                "bot",
                "{}",
                "{}",
                3,
                now,
                now,
                now,
                f"webchat|default|{wv}",
            )
        )
        rows["messages"].append(
            (
                "MI" + key,
                cv,
                1,
                "inbound",
                "contact",
                '[{"kind":"text","text":"hi"}]',
                "hi",
                "received",
                None,
                None,
                now,
                now,
                '{"Body":"hi"}',
                1,
            )
        )
        rows["messages"].append(
            (
                "MO" + key,
                cv,
                2,
                "outbound",
                "bot",
                '[{"kind":"text","text":"Hi!"}]',
                "Hi!",
                "sent",
                None,
                waiting["request_id"],
                now,
                now,
                None,
                1,
            )
        )
        rows["executions"].append((fn, sid, 1, cv, ct, "active", "greet", data, now, now, cv))
        rows["timers"].append((waiting["timer_id"], fn, cv, far, now))
        rows["sessions"].append(
            (hashlib.sha256(token.encode()).hexdigest(), wv, ct, cv, "default", 2, now, now)
        )
    with con:
        con.executemany(
            "INSERT INTO contacts (id, display_name, attributes, created_at, updated_at) "
            "VALUES (?,?,?,?,?)",
            rows["contacts"],
        )
        con.executemany(
            "INSERT INTO identities (kind, value, contact_id, verified, created_at) "
            "VALUES (?,?,?,?,?)",
            rows["identities"],
        )
        con.executemany(
            "INSERT INTO conversations (id, contact_id, channel, channel_account, customer_address,"
            " status, attributes, context, next_seq, last_inbound_at, created_at, updated_at,"
            " open_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows["conversations"],
        )
        con.executemany(
            "INSERT INTO messages (id, conversation_id, seq, direction, author, parts, text,"
            " status,"
            " idempotency_key, request_id, created_at, updated_at, fields, handled)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows["messages"],
        )
        con.executemany(
            "INSERT INTO executions (id, flow_sid, flow_version, conversation_id, contact_id,"
            " status, state, data, created_at, updated_at, active_key)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows["executions"],
        )
        con.executemany(
            "INSERT INTO timers (id, execution_id, conversation_id, due_at, created_at)"
            " VALUES (?,?,?,?,?)",
            rows["timers"],
        )
        con.executemany(
            "INSERT INTO webchat_sessions (token_hash, visitor_id, contact_id, conversation_id,"
            " channel_account, acked_seq, created_at, last_seen_at) VALUES (?,?,?,?,?,?,?,?)",
            rows["sessions"],
        )
    con.close()
    return tokens


async def _first_reply(server: Server, token: str | None) -> None:
    url = f"ws://127.0.0.1:{server.port}/channels/webchat/ws"
    if token:
        url += f"?token={token}&after=2"
    async with websockets.connect(url) as ws:
        await ws.recv()  # session
        await ws.send(
            json.dumps({"type": "message", "text": "hello" if token is None else "billing"})
        )
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if frame.get("type") == "message" and frame.get("direction") == "outbound":
                return


def time_to_serve(data_dir: Path, token: str | None) -> float:
    server = Server(data_dir)
    try:
        server.start()
        asyncio.run(_first_reply(server, token))
        return time.perf_counter() - server.started_at
    finally:
        server.stop()


def run(quick: bool) -> list[Figure]:
    count = 20_000 if quick else 100_000
    with tempfile.TemporaryDirectory(prefix="tl-bench-recovery-") as tmp:
        empty, full = Path(tmp) / "empty", Path(tmp) / "full"
        # First start of each creates the schema and publishes the flows.
        for directory in (empty, full):
            server = Server(directory)
            server.start()
            server.stop()
        started = time.perf_counter()
        tokens = fill(full / "threadline.db", count)
        fill_seconds = time.perf_counter() - started
        baseline = time_to_serve(empty, None)
        value = time_to_serve(full, tokens[0])
    return [
        Figure(
            "recovery_seconds",
            "s",
            value,
            baseline=baseline,
            baseline_label="the same restart with an empty database",
            target="<= 10 s with 100,000 waiting executions",
            details={"waiting_executions": count, "fill_seconds": round(fill_seconds, 1)},
        )
    ]
