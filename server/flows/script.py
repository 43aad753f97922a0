"""Scripts that drive a simulation and check the bot's replies, one instruction a line.

::

    # a comment
    > hello                          the customer says "hello"
    < Hi! How can I help?            the next bot reply must be exactly this
    < /^Hi/                          ... or must match this regular expression (searched)
    ~ timeout                        fire the pending timer
    @http {"status": 200, "json": {"ok": true}}   the answer to the next HTTP request

The format is described for flow designers in ``docs/flows.md``.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from server.flows.simulator import (
    BotReply,
    Note,
    Output,
    RecordedResponse,
    SimulationError,
    Simulator,
)


class ScriptError(ValueError):
    """A script line that cannot be understood."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class Say:
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class Expect:
    line: int
    text: str
    pattern: re.Pattern[str] | None = None  # ``< /regex/``

    def matches(self, reply: str) -> bool:
        if self.pattern is not None:
            return self.pattern.search(reply) is not None
        return reply == self.text


@dataclass(frozen=True, slots=True)
class FireTimeout:
    line: int


@dataclass(frozen=True, slots=True)
class RecordHttp:
    line: int
    response: RecordedResponse


Instruction = Say | Expect | FireTimeout | RecordHttp

# Lines that act on the simulation rather than speak for the customer (used by the chat mode).
SIMULATION_MARKERS = ("~", "@http")


def unescape(text: str) -> str:
    """``\\n`` in a script's text stands for a line break, ``\\\\`` for a backslash."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def parse_line(raw: str, number: int) -> Instruction | None:
    line = raw.rstrip("\r\n")
    if not line.strip() or line.startswith("#"):
        return None
    if line.startswith(">"):
        return Say(number, unescape(line[1:].removeprefix(" ")))
    if line.startswith("<"):
        text = line[1:].removeprefix(" ")
        if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
            try:
                return Expect(number, text, re.compile(text[1:-1]))
            except re.error as error:
                raise ScriptError(number, f"invalid regex {text!r}: {error}") from error
        return Expect(number, unescape(text))
    if line.startswith("~"):
        if line[1:].strip() != "timeout":
            raise ScriptError(number, f"unknown clock instruction {line!r} (use '~ timeout')")
        return FireTimeout(number)
    if line.startswith("@http"):
        try:
            spec = json.loads(line[len("@http") :])
            if not isinstance(spec, dict):
                raise ValueError("expected a JSON object")
            return RecordHttp(number, RecordedResponse.from_spec(spec))
        except ValueError as error:
            raise ScriptError(number, f"invalid @http response: {error}") from error
    raise ScriptError(number, f"unknown instruction {line!r} (lines start with > < ~ @http #)")


def parse_script(text: str) -> list[Instruction]:
    instructions = []
    for number, raw in enumerate(text.splitlines(), start=1):
        instruction = parse_line(raw, number)
        if instruction is not None:
            instructions.append(instruction)
    return instructions


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Where a run parted from the script: what the script expected and what happened."""

    line: int
    expected: str
    got: str

    def __str__(self) -> str:
        return f"line {self.line}: expected {self.expected}, got {self.got}"


@dataclass
class ScriptRun:
    """Plays instructions against a simulator, checking bot replies as they come."""

    simulator: Simulator
    show: Callable[[str], None] = print
    replies: deque[BotReply] = field(default_factory=deque)
    checked: int = 0

    def apply(self, instruction: Instruction) -> Mismatch | None:
        if isinstance(instruction, Expect):
            return self.expect(instruction)
        if isinstance(instruction, RecordHttp):
            self.simulator.record_http(instruction.response)
            return None
        # Replies nobody asserted before the customer acts again are left unchecked.
        self.replies.clear()
        if isinstance(instruction, Say):
            self.show(f"you> {instruction.text}")
            self.receive(self.simulator.customer_says(instruction.text))
        else:
            try:
                self.receive(self.simulator.fire_timeout())
            except SimulationError as error:
                return Mismatch(instruction.line, "a pending timer to fire", str(error))
        return None

    def expect(self, expectation: Expect) -> Mismatch | None:
        expected = f"bot reply {expectation.text!r}"
        if not self.replies:
            return Mismatch(expectation.line, expected, "no reply")
        reply = self.replies.popleft()
        if not expectation.matches(reply.text):
            return Mismatch(expectation.line, expected, repr(reply.text))
        self.checked += 1
        return None

    def receive(self, outputs: Iterable[Output]) -> None:
        for output in outputs:
            if isinstance(output, BotReply):
                self.replies.append(output)
            self.show(format_output(output))

    def run(self, instructions: Iterable[Instruction]) -> Mismatch | None:
        for instruction in instructions:
            mismatch = self.apply(instruction)
            if mismatch is not None:
                return mismatch
        return None


def format_output(output: Output) -> str:
    if isinstance(output, Note):
        return f"  -- {output.text}"
    lines = output.text.splitlines() or [""]
    text = "\n".join(["bot> " + lines[0], *("     " + line for line in lines[1:])])
    for index, choice in enumerate(output.choices, start=1):
        text += f"\n     {index}. {choice.label}"
    for url in output.media_urls:
        text += f"\n     [media] {url}"
    return text
