"""The active execution of recently busy conversations, as this process last committed it.

A message to a waiting flow would otherwise cost reads of the execution (and of its subflows)
before every step. The cache is only a shortcut: the database stays the truth, every entry is a
copy of what this process committed, and a step computed from an entry that another writer has
moved on is refused by the store (``StaleExecution``, on the execution's revision), after which
the runtime drops the entry and reads again. Bounded: the least recently used entries go first.
"""

from __future__ import annotations

from collections import OrderedDict

from server.engine import Execution
from server.engine.execution import ACTIVE

DEFAULT_SIZE = 10_000


class ActiveExecutions:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[str, Execution] = OrderedDict()

    def get(self, conversation_id: str) -> Execution | None:
        execution = self._entries.get(conversation_id)
        if execution is not None:
            self._entries.move_to_end(conversation_id)
        return execution

    def get_by_id(self, conversation_id: str, execution_id: str) -> Execution | None:
        execution = self.get(conversation_id)
        return execution if execution is not None and execution.id == execution_id else None

    def committed(self, execution: Execution, *, deepest: bool) -> None:
        """Record a step this process committed: the execution, as stored.

        ``deepest``: the execution was the conversation's deepest active one when it was stepped
        (a parent stepped under a running subflow is not). Anything else leaves no entry, so the
        next event reads the truth: an ended subflow hands the conversation back to its parent.
        """
        conversation_id = execution.conversation_id
        if conversation_id is None:
            return
        current = self._entries.get(conversation_id)
        if execution.status == ACTIVE and (
            deepest or (current is not None and current.id == execution.id)
        ):
            self._entries[conversation_id] = execution
            self._entries.move_to_end(conversation_id)
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        else:
            self._entries.pop(conversation_id, None)

    def forget(self, conversation_id: str) -> None:
        self._entries.pop(conversation_id, None)
