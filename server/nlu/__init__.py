"""Intent classification for the ``bot-triage`` widget: local few-shot models or an external NLU.

The runtime's effect runner handles ``Custom(kind=KIND)`` with ``await classify(payload)`` and
turns ``NLUError`` into ``Result(ok=False, error=str(error))``.
"""

from server.nlu.service import KIND, NLUError, classify

__all__ = ["KIND", "NLUError", "classify"]
