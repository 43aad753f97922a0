"""Loading a directory of flows: validate each file, keep the valid ones, report the rest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.flows.validation import FlowIssue, load_flow_file

SCHEMA_SUFFIX = ".schema.json"


@dataclass(frozen=True, slots=True)
class FlowSet:
    """The valid flows of a directory keyed by name (the file stem), and the issues of the rest."""

    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: list[FlowIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


def flow_files(path: str | Path) -> list[Path]:
    """The flow files of a directory: every ``*.json`` except JSON Schemas, in name order."""
    return sorted(p for p in Path(path).glob("*.json") if not p.name.endswith(SCHEMA_SUFFIX))


def load_flow_dir(path: str | Path) -> FlowSet:
    # An invalid file never keeps the others from loading; the caller decides whether to fail.
    flows: dict[str, dict[str, Any]] = {}
    issues: list[FlowIssue] = []
    for file in flow_files(path):
        definition, found = load_flow_file(file)
        if found or definition is None:
            issues.extend(found)
        else:
            flows[file.stem] = definition
    return FlowSet(flows, issues)


def flow_sid(name: str) -> str:
    """A Studio-style flow SID (``FW`` + 32 hex digits), the same for the same name everywhere."""
    return "FW" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:32]


def definition_hash(definition: dict[str, Any]) -> str:
    """The sha256 of the canonical JSON: equal for equal definitions whatever their key order."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
