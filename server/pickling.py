"""Fast pickling for the slotted dataclasses that cross to the SQLite writer process.

Python 3.11 pickles a ``slots=True`` dataclass through a generic ``__getstate__`` that calls
``dataclasses.fields()`` for every object; profiles of the message path showed it. Pickling one as a
call of its constructor with its init fields, in order, is the same data at a fraction of the cost.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

C = TypeVar("C", bound=type)


def pickled_by_constructor(cls: C) -> C:
    """Class decorator (above ``@dataclass``): pickle instances as ``cls(*init_fields)``."""
    names = tuple(f.name for f in dataclasses.fields(cls) if f.init)

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        return cls, tuple([getattr(self, name) for name in names])

    cls.__reduce__ = __reduce__  # type: ignore[assignment]
    return cls
