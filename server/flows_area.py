"""The flows area: subflow aliases, functions, CRM look-ups, HTTP rewrites and the REST trigger.

Settings (each a JSON object inline or the path of a JSON file, see ``server.json_setting``):
``THREADLINE_FLOW_ALIASES`` (Studio flow SID -> flow name), ``THREADLINE_FUNCTIONS_FILE``
(function SID or name -> URL), ``THREADLINE_CRM_FILE`` (CRM connectors, see
``server.crm.service``) and ``THREADLINE_HTTP_REWRITE`` (host -> base URL, for staging and
tests: a flow's public URLs answered by a local stand-in).
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.routing import BaseRoute, Route

from server.areas import Services
from server.config import Settings
from server.crm.service import CrmService
from server.engine import effects as fx
from server.functions import FunctionRunner
from server.json_setting import json_setting, string_map
from server.web import rest_trigger
from server.web.openapi import add_paths
from widgets.crm_lookup import KIND as CRM_LOOKUP


def routes(settings: Settings) -> list[BaseRoute]:
    add_paths(rest_trigger.OPENAPI_PATHS)
    return [
        Route("/api/v1/flows/{flow}/executions", rest_trigger.create_execution, methods=["POST"]),
        Route(
            "/api/v1/flows/{flow}/executions/{execution_id}",
            rest_trigger.get_flow_execution,
            methods=["GET"],
        ),
    ]


def _base_of(variable: str) -> Path:
    """Relative paths inside a settings file are relative to that file."""
    raw = os.environ.get(variable, "").strip()
    return Path(raw).resolve().parent if raw and not raw.startswith("{") else Path.cwd()


async def setup(services: Services) -> None:
    runtime = services.runtime
    runtime.flows.aliases.update(string_map("THREADLINE_FLOW_ALIASES"))
    runtime.http.rewrites.update(string_map("THREADLINE_HTTP_REWRITE"))
    functions = FunctionRunner(runtime.http, string_map("THREADLINE_FUNCTIONS_FILE"))
    runtime.effect_handlers[fx.CallFunction] = functions
    crm = CrmService(
        services.store,
        runtime.http,
        json_setting("THREADLINE_CRM_FILE"),
        _base_of("THREADLINE_CRM_FILE"),
    )
    runtime.custom_handlers[CRM_LOOKUP] = crm.lookup
    services.extras["crm"] = crm
