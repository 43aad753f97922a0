"""The sans-IO flow engine. See ``step`` for the entry point."""

from server.engine.execution import Execution, StepLog
from server.engine.flow import CompiledFlow, FlowError, compile_flow
from server.engine.step import StepResult, new_context, step

__all__ = [
    "CompiledFlow",
    "Execution",
    "FlowError",
    "StepLog",
    "StepResult",
    "compile_flow",
    "new_context",
    "step",
]
