"""Flow diagrams: a flow as SVG or Mermaid text, with no Graphviz binary.

States are boxes labelled with their name and widget type; transitions are arrows labelled with
their event (a split's ``match`` transitions with their conditions' friendly names, as Studio's
canvas shows them). Transitions that end the execution end in a small end mark beside the box.

The SVG layout is a small layered layout in the spirit of Sugiyama's: ranks are BFS distances
from the initial state, so every forward arrow spans exactly one rank and needs no bends; the
order inside a rank follows the parents' positions (barycenters) to keep arrows from crossing;
arrows that go back up or stay on their rank run in lanes on the left of the picture.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

# --- the graph ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    type: str
    missing: bool = False  # named by a transition but not defined (an invalid flow)


@dataclass(frozen=True, slots=True)
class Transition:
    event: str
    label: str  # the event, or a split condition's friendly name


@dataclass(slots=True)
class Edge:
    """Every transition from ``source`` to ``target`` (None: the end), drawn as one arrow."""

    source: str
    target: str | None
    transitions: list[Transition] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(t.label for t in self.transitions))


@dataclass(frozen=True, slots=True)
class FlowGraph:
    initial: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def transition_label(transition: dict[str, Any]) -> str:
    conditions = [c for c in transition.get("conditions") or [] if isinstance(c, dict)]
    names = [str(c.get("friendly_name") or "").strip() for c in conditions]
    if conditions and all(names):
        return " & ".join(names)
    if conditions:
        first = conditions[0]
        return f"{transition['event']}: {first.get('type', '')} {first.get('value', '')}".strip()
    return str(transition["event"])


def flow_graph(definition: dict[str, Any]) -> FlowGraph:
    """The states and transitions of a flow definition (one that passes the flow JSON Schema)."""
    states = [s for s in definition.get("states", []) if isinstance(s, dict) and "name" in s]
    nodes = {str(s["name"]): Node(str(s["name"]), str(s.get("type", ""))) for s in states}
    edges: dict[tuple[str, str | None], Edge] = {}
    for state in states:
        for transition in state.get("transitions") or []:
            target = transition.get("next") or None
            if target is not None and target not in nodes:
                nodes[target] = Node(target, "missing", missing=True)
            key = (str(state["name"]), target)
            edge = edges.setdefault(key, Edge(*key))
            edge.transitions.append(Transition(transition["event"], transition_label(transition)))
    return FlowGraph(
        str(definition.get("initial_state", "")), tuple(nodes.values()), tuple(edges.values())
    )


# --- Mermaid ----------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid_ids(graph: FlowGraph) -> dict[str, str]:
    # State names may be Mermaid keywords (``end``) or hold spaces: nodes get neutral ids.
    return {node.name: f"s{index}" for index, node in enumerate(graph.nodes)}


def render_mermaid(graph: FlowGraph) -> str:
    """A Mermaid flowchart: one line per state, then one per transition."""
    ids = mermaid_ids(graph)
    lines = ["flowchart TD"]
    if graph.initial in ids:
        lines.append(f"    start(( )) --> {ids[graph.initial]}")
    for node in graph.nodes:
        label = _mermaid_text(f"{node.name}<br/><i>{node.type}</i>")
        lines.append(f'    {ids[node.name]}["{label}"]')
    ends = False
    for edge in graph.edges:
        target = ids[edge.target] if edge.target is not None else "stop"
        ends = ends or edge.target is None
        for transition in edge.transitions:
            lines.append(
                f'    {ids[edge.source]} -->|"{_mermaid_text(transition.label)}"| {target}'
            )
    if ends:
        lines.append("    stop(((end)))")
    kinds = {node.type for node in graph.nodes}
    for kind in sorted(kinds):
        fill, stroke = style_of(kind)
        members = ",".join(ids[n.name] for n in graph.nodes if n.type == kind)
        css = _css_class(kind)
        lines.append(f"    classDef {css} fill:{fill},stroke:{stroke}")
        lines.append(f"    class {members} {css}")
    return "\n".join(lines) + "\n"


def _css_class(kind: str) -> str:
    return "w_" + "".join(c if c.isalnum() else "_" for c in kind)


# --- styles -----------------------------------------------------------------------------------

STYLES: dict[str, tuple[str, str]] = {
    "trigger": ("#e8f0fe", "#4a6fd1"),
    "send-message": ("#e6f4ea", "#2e8b4a"),
    "send-and-wait-for-reply": ("#e6f4ea", "#2e8b4a"),
    "split-based-on": ("#fef7e0", "#d49b00"),
    "business-hours": ("#fef7e0", "#d49b00"),
    "bot-triage": ("#fff0e0", "#e07b00"),
    "set-variables": ("#f1f3f4", "#70757a"),
    "make-http-request": ("#f3e8fd", "#8a3fd1"),
    "run-function": ("#f3e8fd", "#8a3fd1"),
    "crm-lookup": ("#f3e8fd", "#8a3fd1"),
    "run-subflow": ("#e0f7fa", "#00838f"),
    "send-to-agent": ("#fce8e6", "#c5221f"),
    "send-to-flex": ("#fce8e6", "#c5221f"),
    "missing": ("#ffffff", "#c5221f"),
}
DEFAULT_STYLE = ("#ffffff", "#5f6368")


def style_of(kind: str) -> tuple[str, str]:
    return STYLES.get(kind, DEFAULT_STYLE)


# --- layout -----------------------------------------------------------------------------------

NAME_FONT = 13
TYPE_FONT = 11
LABEL_FONT = 11
LINE = 14  # label line height
BOX_HEIGHT = 46
BOX_MIN_WIDTH = 110
NODE_GAP = 36  # horizontal space between slots
RANK_GAP = 64  # vertical space between ranks, before labels
LANE_GAP = 14  # between back-edge lanes
MARGIN = 24
TITLE_HEIGHT = 32
END_RADIUS = 7


def text_width(text: str, size: float, bold: bool = False) -> float:
    """An estimate of the rendered width: good enough to size boxes, no font files needed."""
    narrow = sum(1 for c in text if c in "iljtfr.,:;'|! ")
    wide = sum(1 for c in text if c in "mwMW@")
    units = len(text) - 0.45 * narrow + 0.35 * wide
    return units * size * (0.64 if bold else 0.6)


@dataclass(slots=True)
class Box:
    node: Node
    rank: int
    width: float
    stub: float  # width of the end mark and its label on the right, 0 when none
    x: float = 0.0  # left
    y: float = 0.0  # top

    @property
    def slot(self) -> float:
        return self.width + self.stub

    @property
    def center(self) -> float:
        return self.x + self.width / 2


def back_edges(graph: FlowGraph) -> set[tuple[str, str]]:
    """The transitions that close a loop, found by a depth-first walk from the initial state."""
    targets: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.target is not None:
            targets.setdefault(edge.source, []).append(edge.target)
    back: set[tuple[str, str]] = set()
    done: set[str] = set()
    starts = [graph.initial, *(n.name for n in graph.nodes)]
    for start in starts:
        if start in done:
            continue
        on_path = {start}
        stack = [(start, iter(targets.get(start, [])))]
        while stack:
            name, pending = stack[-1]
            target = next(pending, None)
            if target is None:
                stack.pop()
                on_path.discard(name)
                done.add(name)
            elif target in on_path:
                back.add((name, target))
            elif target not in done:
                on_path.add(target)
                stack.append((target, iter(targets.get(target, []))))
    return back


def ranks_of(graph: FlowGraph) -> dict[str, int]:
    """Longest-path ranks once loops are cut: every other arrow points down the picture."""
    back = back_edges(graph)
    forward = [
        (e.source, e.target)
        for e in graph.edges
        if e.target is not None and (e.source, e.target) not in back and e.source != e.target
    ]
    reached = {graph.initial}
    changed = True
    while changed:
        changed = False
        for source, target in forward:
            if source in reached and target not in reached:
                reached.add(target)
                changed = True
    ranks = {name: 0 for name in reached if any(n.name == name for n in graph.nodes)}
    # Relaxation terminates: without the back edges the arrows form a DAG.
    for _ in range(len(graph.nodes)):
        moved = False
        for source, target in forward:
            if source in ranks and target in ranks and ranks[target] <= ranks[source]:
                ranks[target] = ranks[source] + 1
                moved = True
        if not moved:
            break
    unreached = max(ranks.values(), default=-1) + 1
    for node in graph.nodes:
        ranks.setdefault(node.name, unreached)
    return ranks


def order_ranks(graph: FlowGraph, ranks: dict[str, int]) -> list[list[str]]:
    """Nodes per rank, in definition order, then sorted by their parents' mean position."""
    order = sorted(graph.nodes, key=lambda n: ranks[n.name])
    rows: list[list[str]] = [[] for _ in range(max(ranks.values(), default=0) + 1)]
    for node in order:
        rows[ranks[node.name]].append(node.name)
    parents: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.target is not None and ranks[edge.target] == ranks[edge.source] + 1:
            parents.setdefault(edge.target, []).append(edge.source)
    for _ in range(2):
        for index in range(1, len(rows)):
            above = {name: i for i, name in enumerate(rows[index - 1])}
            current = {name: i for i, name in enumerate(rows[index])}

            rows[index].sort(key=lambda name: _barycenter(name, parents, above, current))
    return rows


def _barycenter(
    name: str, parents: dict[str, list[str]], above: dict[str, int], current: dict[str, int]
) -> float:
    """The mean position of a node's parents in the rank above (its own, scaled, if none)."""
    positions = [above[p] for p in parents.get(name, []) if p in above]
    if not positions:
        return current[name] * len(above) / max(len(current), 1)
    return sum(positions) / len(positions)


@dataclass(frozen=True, slots=True)
class Lane:
    """The vertical run of an arrow that goes back up, or across its own rank."""

    x: float
    side: str  # "left" or "right" of the boxes: labels sit on the outer side
    level: int  # offsets the horizontal runs of arrows sharing a gap


@dataclass(slots=True)
class Layout:
    boxes: dict[str, Box]
    width: float
    height: float
    beside: set[int]  # edge indexes drawn straight across to a neighbour on the same rank
    lanes: dict[int, Lane]  # edge indexes routed through a lane


def _end_labels(graph: FlowGraph) -> dict[str, str]:
    return {e.source: ", ".join(e.labels) for e in graph.edges if e.target is None}


def _forward(edge: Edge, boxes: dict[str, Box]) -> bool:
    return edge.target is not None and boxes[edge.target].rank == boxes[edge.source].rank + 1


def _label_width(labels: list[str]) -> float:
    return max((text_width(line, LABEL_FONT) for line in labels), default=0) + 10


def _beside_edges(graph: FlowGraph, rows: list[list[str]]) -> dict[int, tuple[str, str]]:
    """Same-rank arrows between neighbours: edge index -> (left node, right node)."""
    neighbours = {}
    for row in rows:
        for left, right in itertools.pairwise(row):
            neighbours[(left, right)] = (left, right)
            neighbours[(right, left)] = (left, right)
    return {
        index: neighbours[(edge.source, edge.target)]
        for index, edge in enumerate(graph.edges)
        if edge.target is not None and (edge.source, edge.target) in neighbours
    }


def layout(graph: FlowGraph) -> Layout:
    ranks = ranks_of(graph)
    ends = _end_labels(graph)
    boxes: dict[str, Box] = {}
    for node in graph.nodes:
        width = max(
            BOX_MIN_WIDTH,
            text_width(node.name, NAME_FONT, bold=True) + 24,
            text_width(node.type, TYPE_FONT) + 24,
        )
        stub = text_width(ends[node.name], LABEL_FONT) + 34 if node.name in ends else 0.0
        boxes[node.name] = Box(node, ranks[node.name], width, stub)
    rows = order_ranks(graph, ranks)
    beside = _beside_edges(graph, rows)
    # Neighbours joined by an arrow stand far enough apart for its label.
    gap_after: dict[str, float] = {}
    for index, (left, _) in beside.items():
        needed = _label_width(graph.edges[index].labels) + 24
        gap_after[left] = max(gap_after.get(left, NODE_GAP), needed)

    # Rank heights: each gap grows with the tallest label of the arrows crossing it.
    gaps = [RANK_GAP] * len(rows)
    for edge in graph.edges:
        if _forward(edge, boxes):
            rank = boxes[edge.source].rank
            gaps[rank] = max(gaps[rank], RANK_GAP + LINE * len(edge.labels))
    tops, y = [], float(TITLE_HEIGHT + MARGIN)
    for index in range(len(rows)):
        tops.append(y)
        y += BOX_HEIGHT + gaps[index]
    height = y - gaps[-1] + MARGIN if rows else y

    # Horizontal: each node under its parents' mean, pushed right to keep the slots apart.
    parents: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.target is not None and _forward(edge, boxes):
            parents.setdefault(edge.target, []).append(edge.source)

    def row_width(row: list[str]) -> float:
        return sum(boxes[n].slot + gap_after.get(n, NODE_GAP) for n in row) - NODE_GAP

    widest = max((row_width(row) for row in rows), default=0)
    for index, row in enumerate(rows):
        cursor = (widest - row_width(row)) / 2
        right = -float("inf")
        for name in row:
            box = boxes[name]
            centers = [boxes[p].center for p in parents.get(name, [])]
            wanted = sum(centers) / len(centers) - box.width / 2 if centers else cursor
            box.x = max(wanted, right)
            box.y = tops[index]
            right = box.x + box.slot + gap_after.get(name, NODE_GAP)
            cursor = right

    lanes = _assign_lanes(graph, boxes, set(beside))
    lefts = [b.x for b in boxes.values()]
    rights = [b.x + b.slot for b in boxes.values()]
    for index, lane in lanes.items():
        label = _label_width(graph.edges[index].labels)
        (lefts if lane.side == "left" else rights).append(
            lane.x - label if lane.side == "left" else lane.x + label
        )
    shift = MARGIN - min(lefts, default=0)
    for box in boxes.values():
        box.x += shift
    lanes = {i: Lane(lane.x + shift, lane.side, lane.level) for i, lane in lanes.items()}
    width = max(rights, default=0) + shift + MARGIN
    return Layout(boxes, max(width, 240), height, set(beside), lanes)


def _assign_lanes(graph: FlowGraph, boxes: dict[str, Box], beside: set[int]) -> dict[int, Lane]:
    """Lanes outside the boxes for the arrows that neither go one rank down nor go next door.

    Each arrow takes the side nearer to its two ends. Arrows whose vertical runs do not overlap
    share a lane; each lane is as far out from the previous one as its widest label needs.
    """
    routed = [
        i
        for i, e in enumerate(graph.edges)
        if e.target is not None and not _forward(e, boxes) and i not in beside
    ]
    if not routed:
        return {}
    left = min(b.x for b in boxes.values())
    right = max(b.x + b.slot for b in boxes.values())
    middle = (left + right) / 2
    spans: dict[int, tuple[float, float]] = {}
    sides: dict[int, str] = {}
    for index in routed:
        edge = graph.edges[index]
        source, target = boxes[edge.source], boxes[edge.target or ""]
        low, high = sorted((source.y + BOX_HEIGHT, target.y))
        spans[index] = (low, high)
        sides[index] = "left" if (source.center + target.center) / 2 <= middle else "right"
    lanes: dict[int, Lane] = {}
    for side, outward, start in (("left", -1, left), ("right", 1, right)):
        members = sorted(
            (i for i in routed if sides[i] == side), key=lambda i: spans[i][1] - spans[i][0]
        )
        occupied: list[list[int]] = []
        for index in members:
            low, high = spans[index]
            for lane in occupied:
                if all(high < spans[o][0] - 8 or low > spans[o][1] + 8 for o in lane):
                    lane.append(index)
                    break
            else:
                occupied.append([index])
        x = start + outward * 2 * LANE_GAP
        for level, lane in enumerate(occupied):
            for index in lane:
                lanes[index] = Lane(x, side, level)
            widest = max(_label_width(graph.edges[i].labels) for i in lane)
            x += outward * (widest + LANE_GAP)
    return lanes


# --- SVG --------------------------------------------------------------------------------------

SVG_NS = "http://www.w3.org/2000/svg"
EDGE_COLOUR = "#5f6368"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
    element = ET.SubElement(
        parent, tag, {k.rstrip("_").replace("_", "-"): _fmt(v) for k, v in attrs.items()}
    )
    if text is not None:
        element.text = text
    return element


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return str(value)


def _spread(left: float, width: float, count: int, index: int) -> float:
    return left + width * (index + 1) / (count + 1)


def render_svg(graph: FlowGraph, title: str = "") -> str:
    """The flow as a standalone SVG document."""
    plan = layout(graph)
    boxes = plan.boxes
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "width": _fmt(plan.width),
            "height": _fmt(plan.height),
            "viewBox": f"0 0 {_fmt(plan.width)} {_fmt(plan.height)}",
            "font-family": FONT,
        },
    )
    _el(svg, "title", title or "flow")
    defs = _el(svg, "defs")
    marker = _el(
        defs,
        "marker",
        id="arrow",
        viewBox="0 0 10 10",
        refX=9,
        refY=5,
        markerWidth=7,
        markerHeight=7,
        orient="auto-start-reverse",
    )
    _el(marker, "path", d="M 0 0 L 10 5 L 0 10 z", fill=EDGE_COLOUR)
    _el(svg, "rect", width="100%", height="100%", fill="#ffffff")
    if title:
        _el(
            svg,
            "text",
            title,
            x=MARGIN,
            y=MARGIN + 4,
            font_size=15,
            font_weight="bold",
            fill="#202124",
        )

    edges_layer = _el(svg, "g", class_="edges", fill="none", stroke=EDGE_COLOUR, stroke_width=1.4)
    labels_layer = _el(svg, "g", class_="labels", font_size=LABEL_FONT, fill="#3c4043")
    _draw_forward(graph, plan, edges_layer, labels_layer)
    _draw_lanes(graph, plan, edges_layer, labels_layer)
    _draw_beside(graph, plan, edges_layer, labels_layer)
    nodes_layer = _el(svg, "g", class_="states")
    for box in boxes.values():
        _draw_box(box, box.node.name == graph.initial, nodes_layer)
    for edge in graph.edges:
        if edge.target is None:
            _draw_end(boxes[edge.source], edge, edges_layer, labels_layer)
    return ET.tostring(svg, encoding="unicode")


def _edge_title(edge: Edge) -> str:
    target = edge.target if edge.target is not None else "(end)"
    return "; ".join(f"{edge.source} --{t.event}--> {target}" for t in edge.transitions)


def _draw_box(box: Box, initial: bool, layer: ET.Element) -> None:
    fill, stroke = style_of(box.node.type)
    group = _el(layer, "g", class_="state")
    _el(group, "title", f"{box.node.name} ({box.node.type})")
    _el(
        group,
        "rect",
        x=box.x,
        y=box.y,
        width=box.width,
        height=BOX_HEIGHT,
        rx=8,
        fill=fill,
        stroke=stroke,
        stroke_width=2.4 if initial else 1.4,
        stroke_dasharray="5 3" if box.node.missing else "none",
    )
    center = box.center
    _el(
        group,
        "text",
        box.node.name,
        x=center,
        y=box.y + 20,
        text_anchor="middle",
        font_size=NAME_FONT,
        font_weight="bold",
        fill="#202124",
    )
    _el(
        group,
        "text",
        box.node.type,
        x=center,
        y=box.y + 36,
        text_anchor="middle",
        font_size=TYPE_FONT,
        fill=stroke,
    )


def _label(
    layer: ET.Element, lines: list[str], x: float, y: float, anchor: str = "middle"
) -> tuple[float, float, float, float]:
    """Label lines centred on (x, y) over a white background; returns its box."""
    width = max(text_width(line, LABEL_FONT) for line in lines) + 8
    height = LINE * len(lines) + 2
    left = {"middle": x - width / 2, "end": x - width, "start": x}[anchor]
    top = y - height / 2
    _el(
        layer,
        "rect",
        x=left,
        y=top,
        width=width,
        height=height,
        rx=3,
        fill="#ffffff",
        fill_opacity=0.9,
    )
    text_x = {"middle": x, "end": x - 4, "start": x + 4}[anchor]
    for index, line in enumerate(lines):
        _el(layer, "text", line, x=text_x, y=top + LINE * (index + 1) - 2, text_anchor=anchor)
    return left, top, left + width, top + height


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _draw_forward(graph: FlowGraph, plan: Layout, edges: ET.Element, labels: ET.Element) -> None:
    boxes = plan.boxes
    forward = [e for e in graph.edges if _forward(e, boxes)]
    outgoing: dict[str, list[Edge]] = {}
    incoming: dict[str, list[Edge]] = {}
    for edge in forward:
        outgoing.setdefault(edge.source, []).append(edge)
        incoming.setdefault(edge.target or "", []).append(edge)
    for group in outgoing.values():
        group.sort(key=lambda e: boxes[e.target or ""].center)
    for group in incoming.values():
        group.sort(key=lambda e: boxes[e.source].center)
    placed: list[tuple[float, float, float, float]] = []
    for edge in forward:
        source, target = boxes[edge.source], boxes[edge.target or ""]
        exits, entries = outgoing[edge.source], incoming[target.node.name]
        sx = _spread(source.x, source.width, len(exits), exits.index(edge))
        tx = _spread(target.x, target.width, len(entries), entries.index(edge))
        sy, ty = source.y + BOX_HEIGHT, target.y - 2
        bend = (ty - sy) / 2
        path = _el(
            edges,
            "path",
            d=f"M {_fmt(sx)} {_fmt(sy)} C {_fmt(sx)} {_fmt(sy + bend)}, "
            f"{_fmt(tx)} {_fmt(ty - bend)}, {_fmt(tx)} {_fmt(ty)}",
            marker_end="url(#arrow)",
        )
        _el(path, "title", _edge_title(edge))
        lines = edge.labels
        width = max(text_width(line, LABEL_FONT) for line in lines) + 8
        height = LINE * len(lines) + 2
        # Try the middle of the curve first, then further along it, to keep labels apart.
        for t in (0.5, 0.3, 0.7, 0.18, 0.82):
            x, y = _bezier(sx, sy, tx, ty, bend, t)
            candidate = (x - width / 2, y - height / 2, x + width / 2, y + height / 2)
            if not any(_overlaps(candidate, other) for other in placed):
                break
        placed.append(_label(labels, lines, x, y))


def _bezier(
    sx: float, sy: float, tx: float, ty: float, bend: float, t: float
) -> tuple[float, float]:
    points = [(sx, sy), (sx, sy + bend), (tx, ty - bend), (tx, ty)]
    weights = [(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3]
    return (
        sum(w * p[0] for w, p in zip(weights, points, strict=True)),
        sum(w * p[1] for w, p in zip(weights, points, strict=True)),
    )


def _draw_lanes(graph: FlowGraph, plan: Layout, edges: ET.Element, labels: ET.Element) -> None:
    """Lane arrows: down into the gap below the source, along the lane, into the target's top."""
    boxes = plan.boxes
    for index, lane in plan.lanes.items():
        edge = graph.edges[index]
        source, target = boxes[edge.source], boxes[edge.target or ""]
        inset = 12 + 6 * lane.level
        if lane.side == "left":
            sx, tx = source.x + inset, target.x + inset
        else:
            sx, tx = source.x + source.width - inset, target.x + target.width - inset
        below = source.y + BOX_HEIGHT + 10 + 4 * lane.level
        above = target.y - 10 - 4 * lane.level
        d = (
            f"M {_fmt(sx)} {_fmt(source.y + BOX_HEIGHT)} V {_fmt(below)} H {_fmt(lane.x)} "
            f"V {_fmt(above)} H {_fmt(tx)} V {_fmt(target.y - 2)}"
        )
        path = _el(edges, "path", d=d, marker_end="url(#arrow)", stroke_linejoin="round")
        _el(path, "title", _edge_title(edge))
        outside = lane.x - 3 if lane.side == "left" else lane.x + 3
        anchor = "end" if lane.side == "left" else "start"
        _label(labels, edge.labels, outside, (below + above) / 2, anchor=anchor)


def _draw_beside(graph: FlowGraph, plan: Layout, edges: ET.Element, labels: ET.Element) -> None:
    """Arrows to a neighbour on the same rank: straight across, below the end marks' line."""
    boxes = plan.boxes
    for index in plan.beside:
        edge = graph.edges[index]
        source, target = boxes[edge.source], boxes[edge.target or ""]
        y = source.y + BOX_HEIGHT / 2 + 10
        if source.x < target.x:
            start, stop = source.x + source.width, target.x - 2
        else:
            start, stop = source.x, target.x + target.width + 2
        path = _el(edges, "path", d=f"M {_fmt(start)} {_fmt(y)} H {_fmt(stop)}")
        path.set("marker-end", "url(#arrow)")
        _el(path, "title", _edge_title(edge))
        _label(labels, edge.labels, (start + stop) / 2, y + 10)


def _draw_end(box: Box, edge: Edge, edges: ET.Element, labels: ET.Element) -> None:
    y = box.y + BOX_HEIGHT / 2
    start, stop = box.x + box.width, box.x + box.slot - END_RADIUS - 4
    line = _el(edges, "path", d=f"M {_fmt(start)} {_fmt(y)} H {_fmt(stop - END_RADIUS)}")
    _el(line, "title", _edge_title(edge))
    _el(
        edges,
        "circle",
        cx=stop,
        cy=y,
        r=END_RADIUS,
        fill="#ffffff",
        stroke="#202124",
        stroke_width=1.4,
    )
    _el(edges, "circle", cx=stop, cy=y, r=END_RADIUS - 3, fill="#202124", stroke="none")
    text = ", ".join(edge.labels)
    _el(labels, "text", text, x=start + 6, y=y - 5, text_anchor="start")
