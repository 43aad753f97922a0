"""Admin view of a web chat conversation's visitor: read marks, contact, identities."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.store import sessions
from server.web.auth import check_admin
from server.web.errors import error


async def webchat_visitor(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    store = request.app.state.store
    conversation_id = request.path_params["conversation_id"]
    conversation = await store.conversation(conversation_id)
    if conversation is None:
        return error(404, "not_found", f"no conversation {conversation_id}")
    contact = await store.contact(conversation["contact_id"])
    identities = await store.contact_identities(conversation["contact_id"])
    return JSONResponse(
        {
            "conversation_id": conversation_id,
            "reads": await sessions.read_marks(store, conversation_id),
            "contact": {
                "id": conversation["contact_id"],
                "display_name": contact["display_name"] if contact else None,
                "attributes": dict(contact["attributes"] or {}) if contact else {},
                "identities": [
                    {"kind": i["kind"], "value": i["value"], "verified": i["verified"]}
                    for i in identities
                ],
            },
        }
    )
