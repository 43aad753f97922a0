"""Flow validation: the flow JSON Schema first, then what a schema cannot say.

Every problem becomes a ``FlowIssue`` naming the file, the state and the property, so a flow
designer can find it without reading a traceback. Validation collects every issue it can rather
than stopping at the first one.

Issues are errors or warnings. An error is what keeps the flow from running (a transition to no
state, an event the widget never fires, a voice-only widget). A warning is what Studio itself
publishes and runs: a Liquid template that does not parse (it renders as text, see
``server.engine.templates``), an unknown filter, a state nothing links to. Flows with warnings
load and run; ``threadline flows validate --strict`` fails on them for CI.
"""

from __future__ import annotations

import builtins
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from liquid.exceptions import LiquidError, TemplateNotFoundError

from channels import untrusted
from server.engine.templates import MARKUP, STRICT_ENV
from widgets import NOT_RUN_HERE, REGISTRY, VOICE_ONLY
from widgets.operators import OPERATORS
from widgets.trigger import NEVER_FIRED

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "flows" / "flow.schema.json"


ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class FlowIssue:
    file: str
    state: str | None
    property: str | None
    message: str
    severity: str = ERROR  # ERROR: the flow cannot run; WARNING: it runs, as in Studio

    @builtins.property  # ``property`` here is the field above
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        where = [self.file]
        if self.state is not None:
            where.append(f"state {self.state!r}")
        if self.property is not None:
            where.append(f"property {self.property!r}")
        message = self.message if self.is_error else f"warning: {self.message}"
        return ": ".join([*where, message])


@cache
def flow_schema_validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def load_flow_file(
    path: str | Path, *, warnings: bool = False
) -> tuple[dict[str, Any] | None, list[FlowIssue]]:
    """Read and validate one flow file.

    The definition is returned whenever the file holds a JSON object, even an invalid flow, so a
    caller can still show it; the flow is usable only when the issue list holds no error
    (``warnings``: include warnings in the list, see ``validate_flow``).
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [FlowIssue(file, None, None, f"cannot read file: {error}")]
    try:
        definition = json.loads(text)
        # The bounds every body from outside gets (no NaN, at most MAX_DEPTH levels): a flow
        # nested deeper cannot be compiled or stored, and one 5,000 levels deep stopped
        # ``threadline serve`` at start-up with a RecursionError (found by tests/fuzz).
        untrusted.loads(text, max_length=len(text))
    except json.JSONDecodeError as error:
        message = f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        return None, [FlowIssue(file, None, None, message)]
    except RecursionError:
        message = f"the file nests deeper than {untrusted.MAX_DEPTH} levels"
        return None, [FlowIssue(file, None, None, message)]
    except untrusted.BadJSON as problem:
        return None, [FlowIssue(file, None, None, f"the file {problem}")]
    if not isinstance(definition, dict):
        return None, [FlowIssue(file, None, None, "a flow definition must be a JSON object")]
    return definition, validate_flow(definition, file=file, warnings=warnings)


def validate_flow(
    definition: dict[str, Any], *, file: str, warnings: bool = False
) -> list[FlowIssue]:
    """The errors that keep ``definition`` from running, in the order found; with
    ``warnings``, the warnings too (what Studio publishes and runs, see the module)."""
    if untrusted.deeper_than(definition, untrusted.MAX_DEPTH):
        # What the API's and the loader's parsers refuse, refused here too for any other
        # caller: compiling such a flow recursed past Python's limit (found by tests/fuzz).
        return [FlowIssue(file, None, None, f"nests deeper than {untrusted.MAX_DEPTH} levels")]
    schema_issues = [
        _schema_issue(error, definition, file)
        for error in sorted(flow_schema_validator().iter_errors(definition), key=_error_order)
    ]
    if schema_issues:
        # The semantic checks rely on the frame the schema guarantees.
        return schema_issues
    issues = _FlowChecker(definition, file).issues()
    return issues if warnings else [issue for issue in issues if issue.is_error]


def _error_order(error: ValidationError) -> tuple[str, ...]:
    return tuple(str(p) for p in error.absolute_path)


def _schema_issue(error: ValidationError, definition: dict[str, Any], file: str) -> FlowIssue:
    path = list(error.absolute_path)
    state: str | None = None
    if len(path) >= 2 and path[0] == "states" and isinstance(path[1], int):
        raw = definition["states"][path[1]]
        name = raw.get("name") if isinstance(raw, dict) else None
        state = name if isinstance(name, str) and name else f"#{path[1]}"
        path = path[2:]
    prop, message = _describe(error, path)
    return FlowIssue(file, state, prop, message)


def _describe(error: ValidationError, path: list[str | int]) -> tuple[str | None, str]:
    """The property an error is about and a message a flow designer can act on."""
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        if missing:
            return property_path([*path, missing[0]]), "required property missing"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        extra = [p for p in error.instance if p not in allowed]
        if extra:
            return property_path([*path, extra[0]]), "unknown property"
    return property_path(path), error.message


def property_path(path: list[str | int]) -> str | None:
    """``["parameters", 0, "key"]`` -> ``parameters[0].key``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


class _FlowChecker:
    """The checks that need the whole flow: names, wiring, widget types and templates."""

    def __init__(self, definition: dict[str, Any], file: str) -> None:
        self.definition = definition
        self.file = file
        self.states: list[dict[str, Any]] = definition["states"]
        self.names = {state["name"] for state in self.states}
        self.found: list[FlowIssue] = []
        self.runs_here: set[str] = set()

    def issue(self, state: str | None, prop: str | None, message: str) -> None:
        self.found.append(FlowIssue(self.file, state, prop, message))

    def warn(self, state: str | None, prop: str | None, message: str) -> None:
        self.found.append(FlowIssue(self.file, state, prop, message, WARNING))

    def issues(self) -> list[FlowIssue]:
        self.check_duplicates()
        initial = self.definition["initial_state"]
        if initial not in self.names:
            self.issue(None, "initial_state", f"names no state: {initial!r}")
        # What a run here can enter: a widget that cannot run is an error only there.
        self.runs_here = self.reached(initial, skip=NEVER_FIRED)
        for state in self.states:
            self.check_state(state)
        if initial in self.names:
            self.check_reachable(initial)
        return self.found

    def reached(self, initial: str, skip: frozenset[str] = frozenset()) -> set[str]:
        """The states reachable from ``initial``, not following events in ``skip``."""
        if initial not in self.names:
            return set()
        targets: dict[str, list[str]] = {}
        for state in self.states:
            nexts = [t.get("next") for t in state.get("transitions", []) if t["event"] not in skip]
            targets.setdefault(state["name"], []).extend(n for n in nexts if n)
        reached = {initial}
        queue = deque([initial])
        while queue:
            for target in targets.get(queue.popleft(), []):
                if target not in reached and target in self.names:
                    reached.add(target)
                    queue.append(target)
        return reached

    def check_duplicates(self) -> None:
        seen: set[str] = set()
        for state in self.states:
            if state["name"] in seen:
                self.issue(state["name"], None, "duplicate state name")
            seen.add(state["name"])

    def check_reachable(self, initial: str) -> None:
        reached = self.reached(initial)
        for state in self.states:
            if state["name"] not in reached:
                # Studio publishes flows with widgets nothing links to (left on the canvas);
                # they never run, so they cannot fail.
                self.warn(state["name"], None, f"unreachable from initial_state {initial!r}")

    def check_state(self, state: dict[str, Any]) -> None:
        name, kind = state["name"], state["type"]
        props = {k: v for k, v in (state.get("properties") or {}).items() if k != "offset"}
        widget = REGISTRY.get(kind)
        if widget is None:
            self.check_unrunnable(name, kind)
        props_valid = widget is not None and self.check_properties(
            name, props, widget.properties_schema
        )
        # Events that depend on the properties (bot-triage's intents) are read only from
        # properties their schema accepted: a malformed intent is reported above, not a crash.
        known_events = widget is not None and (props_valid or widget.dynamic_events is None)
        events = widget.events_for(props) if widget is not None and known_events else ()
        for index, transition in enumerate(state.get("transitions", [])):
            where = f"transitions[{index}]"
            if widget is not None and known_events and transition["event"] not in events:
                self.issue(
                    name,
                    f"{where}.event",
                    f"widget type {kind!r} has no event {transition['event']!r} "
                    f"(it has: {', '.join(events)})",
                )
            target = transition.get("next")
            if target and target not in self.names:
                self.issue(name, f"{where}.next", f"names no state: {target!r}")
            self.check_conditions(name, kind, where, transition)
        if widget is not None and props_valid and widget.dynamic_events is not None:
            wired = {t["event"] for t in state.get("transitions", [])}
            for event in widget.dynamic_events(props):
                if event not in wired:
                    self.issue(name, "transitions", f"event {event!r} has no transition")
        self.check_templates(name, props)

    def check_unrunnable(self, name: str, kind: str) -> None:
        """A widget type with no step function here: an error where a message can reach it; a
        warning where only a call can (mixed voice and messaging exports), or nothing."""
        if kind in VOICE_ONLY:
            message = (
                f"widget type {kind!r} is voice-only; Threadline runs messaging flows "
                f"(state {name!r} cannot run here)"
            )
        elif kind in NOT_RUN_HERE:
            message = f"widget type {kind!r} cannot run here: {NOT_RUN_HERE[kind]}"
        else:
            message = f"unknown widget type {kind!r}"
        if name in self.runs_here:
            self.issue(name, None, message)
        else:
            self.warn(name, None, f"{message}; it never runs here, no message reaches it")

    def check_properties(self, name: str, props: dict[str, Any], schema: dict[str, Any]) -> bool:
        """Report what the widget's schema refuses; whether it accepted the properties."""
        validator = Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(props), key=_error_order)
        for error in errors:
            prop, message = _describe(error, list(error.absolute_path))
            self.issue(name, prop, message)
        return not errors

    def check_conditions(
        self, name: str, kind: str, where: str, transition: dict[str, Any]
    ) -> None:
        conditions = transition.get("conditions") or []
        if kind == "split-based-on" and transition["event"] == "match" and not conditions:
            self.issue(name, f"{where}.conditions", "a match transition needs conditions")
        for index, condition in enumerate(conditions):
            prefix = f"{where}.conditions[{index}]"
            if condition["type"] not in OPERATORS:
                self.issue(name, f"{prefix}.type", f"unknown operator {condition['type']!r}")
            self.check_templates(name, condition, prefix)

    def check_templates(self, name: str, value: Any, prefix: str | None = None) -> None:
        for path, source in _template_strings(value, [prefix] if prefix else []):
            # Studio publishes these and runs them (broken markup stays text, an unknown filter
            # renders empty): warnings, from the strict twin of the run-time environment.
            try:
                template = STRICT_ENV.from_string(source)
            except LiquidError as error:
                summary = str(error).splitlines()[0]
                self.warn(name, property_path(path), f"Liquid syntax error: {summary}")
                continue
            try:
                used = set(template.filter_names())
            except LiquidError as error:
                # Static analysis follows {% include %} and {% render %}, and flows have no
                # templates to include: a 500 from the flows API before (found by tests/fuzz).
                summary = str(error).splitlines()[0]
                if isinstance(error, TemplateNotFoundError):
                    summary = f"no template {summary!r}: a flow cannot include or render one"
                self.warn(name, property_path(path), f"Liquid: {summary}")
                continue
            for unknown in sorted(used - set(STRICT_ENV.filters)):
                self.warn(name, property_path(path), f"Liquid: unknown filter {unknown!r}")


def _template_strings(value: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    """Every string holding Liquid markup inside ``value``, with its path."""
    if isinstance(value, str):
        if any(marker in value for marker in MARKUP):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _template_strings(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _template_strings(item, [*path, index])
