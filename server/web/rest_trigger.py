"""Studio's REST trigger: ``POST /api/v1/flows/{flow}/executions`` starts a flow for a contact.

As in Studio, ``To`` is the contact's address and ``From`` the flow's (business) address; the
channel is ``whatsapp`` when the addresses start with ``whatsapp:``, else ``sms``. ``Parameters``
(a JSON object, or a JSON string of one) become ``flow.data``. A contact has at most one active
execution per flow address: a second request while one runs gets 409.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from channels.twilio.phone import to_e164
from channels.untrusted import BadJSON, loads
from server.engine.events import Start
from server.model import Identity
from server.runtime.runtime import Runtime
from server.web import admin_api
from server.web.auth import check_admin
from server.web.bodies import max_body_bytes
from server.web.errors import error

WHATSAPP = "whatsapp:"


class BadRequest(Exception):
    def __init__(self, field: str, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


async def _body(request: Request) -> dict[str, Any]:
    if "json" in request.headers.get("content-type", ""):
        try:
            body = loads(await request.body() or b"{}", max_length=max_body_bytes(request))
        except BadJSON as problem:
            raise BadRequest("body", f"the body {problem}", "bad_json") from None
        if not isinstance(body, dict):
            raise BadRequest("body", "the body must be a JSON object")
        return body
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _parameters(raw: Any, max_length: int) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = loads(raw, max_length=max_length)
        except BadJSON as problem:
            raise BadRequest("Parameters", f"field 'Parameters' {problem}", "bad_json") from None
    if not isinstance(raw, dict):
        raise BadRequest("Parameters", "'Parameters' must be a JSON object")
    return raw


def _address(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(field, f"'{field}' is required (an address such as +14155550100)")
    return value.strip()


def identity_of(address: str) -> Identity:
    if address.startswith(WHATSAPP):
        return Identity("whatsapp", to_e164(address[len(WHATSAPP) :]))
    return Identity("phone", to_e164(address))


async def create_execution(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    runtime: Runtime = request.app.state.runtime
    name = request.path_params["flow"]
    flow = runtime.flows.latest(name)
    if flow is None:
        return error(404, "not_found", f"no flow {name}")
    try:
        body = await _body(request)
        to = _address(body, "To")
        sender = _address(body, "From")
        parameters = _parameters(body.get("Parameters"), max_body_bytes(request))
    except BadRequest as exc:
        return error(400, exc.code, str(exc))
    channel = "whatsapp" if to.startswith(WHATSAPP) or sender.startswith(WHATSAPP) else "sms"
    conversation = await runtime.store.open_for_address(
        channel=channel, account=sender, address=to, identities=(identity_of(to),)
    )

    async def start() -> str | None:
        if await runtime.store.active_execution(conversation["id"]) is not None:
            return None
        now = time.time()
        execution = runtime.new_execution(flow, conversation, now)
        event = Start("incomingRequest", now, data=parameters, parameters=parameters)
        try:
            await runtime.apply(flow, execution, event, conversation, created=True)
        except IntegrityError:  # another node started one between the check and the insert
            return None
        return execution.id

    execution_id = await runtime.serial.submit(conversation["id"], start)
    if execution_id is None:
        return error(
            409,
            "execution_active",
            f"{to} already has an active execution on {sender}; it must end first",
        )
    request.scope["path_params"] = {**request.path_params, "execution_id": execution_id}
    response = await admin_api.get_execution(request)
    response.status_code = 201
    return response


async def get_flow_execution(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    runtime: Runtime = request.app.state.runtime
    flow = runtime.flows.latest(request.path_params["flow"])
    row = await runtime.store.execution_row(request.path_params["execution_id"])
    if flow is None or row is None or row["flow_sid"] != flow.sid:
        return error(404, "not_found", "no such execution of this flow")
    return await admin_api.get_execution(request)


OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/flows/{flow}/executions": {
        "post": {
            "summary": "Start a flow for a contact (Studio's REST trigger, incomingRequest)",
            "parameters": [{"name": "flow", "in": "path", "required": True}],
            "requestBody": {
                "content": {
                    ct: {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "To": {"type": "string"},
                                "From": {"type": "string"},
                                "Parameters": {"type": ["string", "object"]},
                            },
                            "required": ["To", "From"],
                        }
                    }
                    for ct in ("application/json", "application/x-www-form-urlencoded")
                }
            },
            "responses": {
                "201": {"description": "The execution, with its steps so far"},
                "400": {"description": "A missing or malformed field"},
                "404": {"description": "No such flow"},
                "409": {"description": "The contact already has an active execution"},
            },
        }
    },
    "/api/v1/flows/{flow}/executions/{execution_id}": {
        "get": {
            "summary": "An execution of the flow, with its step log",
            "parameters": [
                {"name": "flow", "in": "path", "required": True},
                {"name": "execution_id", "in": "path", "required": True},
            ],
            "responses": {"200": {"description": "The execution"}, "404": {"description": "-"}},
        }
    },
}
