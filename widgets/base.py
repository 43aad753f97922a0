"""What widget modules build on: the engine's widget protocol and small shared helpers."""

from server.engine.widget import WidgetCall, WidgetResult, WidgetType, as_number

__all__ = ["WidgetCall", "WidgetResult", "WidgetType", "as_number"]
