"""Functions flows run with ``run-function``: registered Python callables and HTTP functions.

A deployment registers callables with ``register_function(name, fn)`` (``fn`` takes the
parameters dict and returns a JSON-able value, sync or async); ``THREADLINE_FUNCTIONS_FILE`` maps
function SIDs or names to URLs. A name neither knows is called at the state's own ``url``, as
Studio calls the Twilio Function. HTTP functions get the parameters as a form POST, like Twilio
Functions, through the flows' guarded HTTP client.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from server.engine import effects as fx
from server.engine.events import Result
from server.runtime.http_client import FlowHttpClient
from server.store.ops import Row

FunctionCallable = Callable[[dict[str, Any]], Any | Awaitable[Any]]

_REGISTRY: dict[str, FunctionCallable] = {}


def register_function(name: str, fn: FunctionCallable) -> None:
    _REGISTRY[name] = fn


def registered_function(name: str) -> FunctionCallable | None:
    return _REGISTRY.get(name)


async def _call_python(effect: fx.CallFunction, fn: FunctionCallable) -> Result:
    value = fn(dict(effect.parameters))
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, str):
        body, content_type = value, "text/plain"
    else:
        body, content_type = json.dumps(value), "application/json"
    data = {"status_code": 200, "content_type": content_type, "body": body}
    return Result(effect.request_id, time.time(), True, data)


class FunctionRunner:
    """The runtime's handler for ``CallFunction`` effects."""

    def __init__(self, http: FlowHttpClient, urls: dict[str, str] | None = None) -> None:
        self.http = http
        self.urls = dict(urls or {})  # function SID or name -> URL

    async def __call__(self, conversation: Row, effect: fx.Effect) -> Result:
        assert isinstance(effect, fx.CallFunction)
        fn = registered_function(effect.function)
        if fn is not None:
            return await _call_python(effect, fn)
        url = self.urls.get(effect.function) or effect.url
        if not url:
            error = f"function {effect.function!r} is not registered and has no URL"
            return Result(effect.request_id, time.time(), False, error=error)
        request = fx.HttpRequest(
            effect.request_id,
            "POST",
            url,
            {},
            urlencode({k: str(v) for k, v in effect.parameters.items()}),
            "application/x-www-form-urlencoded",
            effect.timeout,
        )
        outcome = await self.http.perform(request)
        data = {
            "status_code": outcome.status_code,
            "content_type": outcome.content_type,
            "body": outcome.body,
            "truncated": outcome.truncated,
        }
        return Result(effect.request_id, time.time(), outcome.ok, data, outcome.error)
