"""The REST API under /api/v1 for operators: conversations, messages and execution step logs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.runtime.rows import conversation_json, iso, message_json
from server.web.auth import check_admin
from server.web.errors import error
from server.web.params import int_query

MAX_PAGE = 200


async def list_conversations(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    limit = int_query(request, "limit", 50, 1, MAX_PAGE)
    if isinstance(limit, Response):
        return limit
    offset = int_query(request, "offset", 0, 0, 10**9)
    if isinstance(offset, Response):
        return offset
    rows, total = await request.app.state.store.list_conversations(
        limit=limit, offset=offset, status=request.query_params.get("status")
    )
    return JSONResponse(
        {
            "conversations": [conversation_json(r) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


async def get_conversation(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    store = request.app.state.store
    conversation_id = request.path_params["conversation_id"]
    row = await store.conversation(conversation_id)
    if row is None:
        return error(404, "not_found", f"no conversation {conversation_id}")
    body = conversation_json(row)
    body["messages"] = [
        message_json(m) for m in await store.messages(conversation_id, limit=10_000)
    ]
    body["executions"] = [
        {
            "id": e["id"],
            "flow_sid": e["flow_sid"],
            "flow_version": e["flow_version"],
            "status": e["status"],
            "state": e["state"],
            "created_at": iso(e["created_at"]),
            "ended_at": iso(e["ended_at"]),
        }
        for e in await store.conversation_executions(conversation_id)
    ]
    return JSONResponse(body)


async def get_execution(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    store = request.app.state.store
    execution_id = request.path_params["execution_id"]
    row = await store.execution_row(execution_id)
    if row is None:
        return error(404, "not_found", f"no execution {execution_id}")
    data = row["data"]
    steps = await store.execution_steps(execution_id)
    return JSONResponse(
        {
            "id": row["id"],
            "flow_sid": row["flow_sid"],
            "flow_version": row["flow_version"],
            "conversation_id": row["conversation_id"],
            "contact_id": row["contact_id"],
            "status": row["status"],
            "state": row["state"],
            "ended_reason": data.get("ended_reason"),
            "context": data.get("context"),
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
            "ended_at": iso(row["ended_at"]),
            "steps": [
                {
                    "seq": s["seq"],
                    "from": s["from_state"],
                    "event": s["event"],
                    "to": s["to_state"],
                    "at": iso(s["at"]),
                    "outputs": s["outputs"],
                }
                for s in steps
            ],
        }
    )


routes = [
    Route("/api/v1/conversations", list_conversations, methods=["GET"]),
    Route("/api/v1/conversations/{conversation_id}", get_conversation, methods=["GET"]),
    Route("/api/v1/executions/{execution_id}", get_execution, methods=["GET"]),
]
