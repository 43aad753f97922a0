"""Agent routing as a sans-IO engine, in TaskRouter's vocabulary (queues, workflows, steps).

``Router(config).handle(event) -> [effects]``; see docs/routing.md.
"""

from server.routing.config import RoutingConfig
from server.routing.expressions import ExpressionError, compile_expression
from server.routing.router import Router, RoutingError

__all__ = ["ExpressionError", "Router", "RoutingConfig", "RoutingError", "compile_expression"]
