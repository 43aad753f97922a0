"""``make-http-request``: call an HTTP endpoint; ``success`` on 2xx, else ``failed``.

The outputs follow Studio: ``status_code``, ``content_type``, ``body`` and ``parsed`` when the
response is JSON. Requests time out after 10 s, Studio's limit, whatever the flow asks.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlencode

from server.engine.effects import HttpRequest
from server.engine.events import Event, Result
from widgets.base import WidgetCall, WidgetResult, WidgetType, as_number

MAX_TIMEOUT = 10.0


def _pairs(props: Any) -> list[tuple[str, str]]:
    return [
        (str(p.get("key", "")), str(p.get("value", "")))
        for p in props.get("parameters") or []
        if str(p.get("key", ""))
    ]


def build_request(request_id: str, props: Any) -> HttpRequest:
    method = str(props.get("method") or "GET").upper()
    url = str(props.get("url") or "").strip()
    content_type = str(props.get("content_type") or "application/x-www-form-urlencoded")
    params = _pairs(props)
    headers = {
        str(h.get("key")).strip(): str(h.get("value", ""))
        for h in props.get("headers") or []
        if str(h.get("key") or "").strip()
    }
    body: str | None = None
    if method in ("GET", "DELETE", "HEAD"):
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
    elif content_type.startswith("application/json"):
        body = str(props.get("body") or "")
    else:
        body = urlencode(params) if params else str(props.get("body") or "")
    timeout = as_number(props.get("timeout"), MAX_TIMEOUT)
    # Studio exports often carry timeouts far above its own 10 s limit (the NPS survey: 3600);
    # zero or negative is no usable timeout either.
    timeout = timeout if 0 < timeout <= MAX_TIMEOUT else MAX_TIMEOUT
    return HttpRequest(request_id, method, url, headers, body, content_type, timeout)


def outputs_of(event: Result) -> dict[str, Any]:
    data = event.data
    body = str(data.get("body", ""))
    content_type = str(data.get("content_type", ""))
    outputs: dict[str, Any] = {
        "status_code": data.get("status_code"),
        "content_type": content_type,
        "body": body,
    }
    if data.get("truncated"):  # the body is the first 1 MiB of a longer one: never parsed
        outputs["truncated"] = True
    elif "json" in content_type or body[:1] in ("{", "["):
        with contextlib.suppress(ValueError):  # not JSON after all: no ``parsed``, as in Studio
            outputs["parsed"] = json.loads(body)
    if event.error:
        outputs["error"] = event.error
    return outputs


def enter(call: WidgetCall) -> WidgetResult:
    request_id = call.request_id("http")
    request = build_request(request_id, call.props)
    return WidgetResult(effects=(request,), waiting={"request_id": request_id})


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    if not isinstance(event, Result) or event.request_id != call.waiting.get("request_id"):
        return None
    # Runtimes may report the status as text ("200"); anything unreadable is a failure.
    status = as_number(event.data.get("status_code"), 0.0)
    ok = event.ok and 200 <= status < 300
    return WidgetResult(transition="success" if ok else "failed", outputs=outputs_of(event))


KEY_VALUES: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "value": {}},
        "required": ["key"],
    },
}

WIDGET = WidgetType(
    type="make-http-request",
    events=("success", "failed"),
    properties_schema={
        "type": "object",
        "properties": {
            "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
            "url": {"type": "string", "minLength": 1},
            "content_type": {"type": "string"},
            "body": {"type": "string"},
            "parameters": KEY_VALUES,
            "headers": KEY_VALUES,
            "timeout": {"type": ["string", "number", "integer"]},
        },
        "required": ["method", "url"],
    },
    enter=enter,
    resume=resume,
    description="Calls an HTTP endpoint.",
)
