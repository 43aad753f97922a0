"""``run-function``: call a function; ``success`` on a 2xx answer, else ``fail``.

Studio runs a Twilio Function (``function_sid``, served at ``url``) with the ``parameters`` as a
form POST. Threadline asks the runtime with a ``CallFunction`` effect: a Python callable
registered under the function's SID or name (``server.functions``), a URL mapped to it in
``THREADLINE_FUNCTIONS_FILE``, or else the state's own ``url``. Outputs follow Studio:
``status_code``, ``body`` and ``parsed`` when the body is JSON.
"""

from __future__ import annotations

from server.engine.effects import CallFunction
from server.engine.events import Event, Result
from widgets.base import WidgetCall, WidgetResult, WidgetType, as_number
from widgets.make_http_request import MAX_TIMEOUT, outputs_of
from widgets.params import KEY_VALUES, key_values


def function_name(call: WidgetCall) -> str:
    for key in ("function", "function_sid"):
        value = str(call.props.get(key) or "").strip()
        if value:
            return value
    return ""


def enter(call: WidgetCall) -> WidgetResult:
    request_id = call.request_id("function")
    timeout = as_number(call.props.get("timeout"), MAX_TIMEOUT)
    effect = CallFunction(
        request_id,
        function_name(call),
        key_values(call.props),
        timeout if 0 < timeout <= MAX_TIMEOUT else MAX_TIMEOUT,
        url=str(call.props.get("url") or "").strip() or None,
    )
    return WidgetResult(effects=(effect,), waiting={"request_id": request_id})


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    if not isinstance(event, Result) or event.request_id != call.waiting.get("request_id"):
        return None
    status = as_number(event.data.get("status_code"), 0.0)
    ok = event.ok and 200 <= status < 300
    return WidgetResult(transition="success" if ok else "fail", outputs=outputs_of(event))


WIDGET = WidgetType(
    type="run-function",
    events=("success", "fail"),
    properties_schema={
        "type": "object",
        "properties": {
            "function_sid": {"type": "string"},
            "function": {"type": "string"},
            "url": {"type": "string"},
            "service_sid": {"type": "string"},
            "environment_sid": {"type": "string"},
            "parameters": KEY_VALUES,
            "timeout": {"type": ["string", "number", "integer"]},
        },
        "anyOf": [
            {"required": ["function_sid"]},
            {"required": ["function"]},
            {"required": ["url"]},
        ],
    },
    enter=enter,
    resume=resume,
    description="Runs a function: a registered Python callable or an HTTP function.",
)
