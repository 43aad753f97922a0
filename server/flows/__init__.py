"""Flow files: validation against the schema and the widget registry, loading, simulation."""

from server.flows.loader import FlowSet, definition_hash, flow_files, flow_sid, load_flow_dir
from server.flows.validation import (
    FlowIssue,
    load_flow_file,
    validate_flow,
)

__all__ = [
    "FlowIssue",
    "FlowSet",
    "definition_hash",
    "flow_files",
    "flow_sid",
    "load_flow_dir",
    "load_flow_file",
    "validate_flow",
]
