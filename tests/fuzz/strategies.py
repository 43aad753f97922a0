"""Hypothesis strategies for hostile input: arbitrary JSON, bodies that are not JSON, and
mutations of real documents (a real payload with a few nodes broken is what a buggy or hostile
client sends most often, and reaches deeper than random trees)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from channels.untrusted import MAX_DEPTH

# Integers at the edges that matter: what the database stores (signed 64-bit), what orjson
# still reads as an int (unsigned 64-bit), and past both.
EDGE_INTS = (0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30)

# Text of every kind: control characters and NULs included (surrogates cannot be sent as UTF-8,
# and hypothesis leaves them out of ``text()`` already).
texts = st.text(max_size=40)
long_texts = st.builds(
    lambda char, count: char * count, st.characters(codec="utf-8"), st.integers(0, 70_000)
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(EDGE_INTS),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)

json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)
    ),
    max_leaves=20,
)


def nested(depth: int, *, as_object: bool) -> str:
    """``depth`` levels of arrays (or objects) as JSON text, built without recursion."""
    if as_object:
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "]" * depth


deep_documents = st.builds(
    nested,
    st.one_of(st.integers(MAX_DEPTH - 2, MAX_DEPTH + 2), st.integers(1, 3_000)),
    as_object=st.booleans(),
)


def dump(value: Any, ascii_only: bool = True) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


json_texts = st.builds(dump, json_values, st.booleans())

# Text that is not quite JSON: cut short, NaN (Python writes it, JSON has none), free text.
broken_json_texts = st.one_of(
    st.builds(lambda text, cut: text[:cut], json_texts, st.integers(0, 50)),
    st.just('{"a": NaN}'),
    texts,
)

raw_bodies = st.one_of(
    json_texts.map(str.encode),
    deep_documents.map(str.encode),
    broken_json_texts.map(lambda text: text.encode("utf-8")),
    st.binary(max_size=200),
)


# --- mutations of a real document ---------------------------------------------------------------

Path = tuple[str | int, ...]


def paths(document: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every node of ``document`` (the root too), as the keys leading to it."""
    yield prefix
    if isinstance(document, dict):
        for key, child in document.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(document, list):
        for index, child in enumerate(document):
            yield from paths(child, (*prefix, index))


def _parent(document: Any, path: Path) -> Any:
    for key in path[:-1]:
        document = document[key]
    return document


def _set(document: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    _parent(document, path)[path[-1]] = value
    return document


def _get(document: Any, path: Path) -> Any:
    for key in path:
        document = document[key]
    return document


MUTATIONS = ("replace", "delete", "wrap", "insert", "empty", "stretch")
MAX_STRETCH = 100_000  # characters


@st.composite
def mutated(draw: st.DrawFn, seed: Any, max_mutations: int = 3) -> Any:
    """``seed`` with 1 to ``max_mutations`` nodes replaced by arbitrary values, deleted,
    wrapped in a container, given a new sibling, emptied, or (strings) made very long."""
    document = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, max_mutations))):
        path = draw(st.sampled_from(list(paths(document))))
        node = _get(document, path)
        kind = draw(st.sampled_from(MUTATIONS))
        if kind == "replace":
            document = _set(document, path, draw(json_values))
        elif kind == "delete" and path:
            parent = _parent(document, path)
            del parent[path[-1]]
        elif kind == "wrap":
            wrapper = draw(st.sampled_from(["list", "object"]))
            document = _set(document, path, [node] if wrapper == "list" else {"value": node})
        elif kind == "insert" and isinstance(node, dict):
            node[draw(texts)] = draw(json_values)
        elif kind == "insert" and isinstance(node, list):
            node.insert(draw(st.integers(0, len(node))), draw(json_values))
        elif kind == "empty":
            document = _set(document, path, type(node)() if node is not None else "")
        elif kind == "stretch" and isinstance(node, str) and node:
            # Past every bound the server has (64 KiB frames, 4,096-character texts), but not
            # megabytes: stretching a stretched string again must not multiply without end.
            times = draw(st.integers(2, max(2, MAX_STRETCH // len(node))))
            document = _set(document, path, node * times)
    return document


# --- socket frames --------------------------------------------------------------------------------


def typed_frames(
    types: tuple[str, ...],
    fields: tuple[str, ...],
    fixed: dict[str, st.SearchStrategy[Any]] | None = None,
    values: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Frames shaped like a protocol's (a known ``type``, or a wrong one, and any of its field
    names) with values of any type (or drawn from ``values`` for the fields named there): these
    get past the decoder into each frame's handler."""
    chosen = values or {}
    return st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(types), json_values), **(fixed or {})},
        optional={name: chosen.get(name, json_values) for name in fields},
    )


# Frames around and far past the 64 KiB bound of every socket: the server must close with 1009
# and a close frame while the client is still sending.
oversized_frames = st.builds(lambda size: "x" * size, st.integers(60_000, 2_000_000))


def socket_frames(typed: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[str | bytes]:
    """Text frames (typed, arbitrary JSON, not JSON, too deep, too big) and binary ones."""
    return st.one_of(
        typed.map(dump),
        typed.map(dump),
        json_texts,
        broken_json_texts,
        deep_documents,
        st.binary(max_size=100),
        oversized_frames,
    )
