from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from server.flows import definition_hash, flow_sid, load_flow_dir
from server.flows.validation import SCHEMA_PATH

REPO = Path(__file__).resolve().parents[2]
GREETING = Path(__file__).parent / "data" / "greeting.json"


def test_valid_flows_load_and_invalid_ones_are_reported(tmp_path: Path) -> None:
    shutil.copy(GREETING, tmp_path / "greeting.json")
    shutil.copy(SCHEMA_PATH, tmp_path / "flow.schema.json")
    broken = json.loads(GREETING.read_text(encoding="utf-8"))
    broken["initial_state"] = "nope"
    (tmp_path / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    (tmp_path / "garbled.json").write_text("{", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a flow", encoding="utf-8")

    flow_set = load_flow_dir(tmp_path)

    assert list(flow_set.flows) == ["greeting"]
    assert flow_set.flows["greeting"]["initial_state"] == "Trigger"
    assert not flow_set.ok
    assert {Path(i.file).name for i in flow_set.issues} == {"broken.json", "garbled.json"}


def test_empty_dir_loads_nothing(tmp_path: Path) -> None:
    flow_set = load_flow_dir(tmp_path)
    assert flow_set.flows == {}
    assert flow_set.ok


def test_every_flow_shipped_in_flows_dir_is_valid() -> None:
    flow_set = load_flow_dir(REPO / "flows")
    assert [str(i) for i in flow_set.issues] == []


def test_flow_sid_is_studio_shaped_and_deterministic() -> None:
    sid = flow_sid("greeting")
    assert re.fullmatch(r"FW[0-9a-f]{32}", sid)
    assert flow_sid("greeting") == sid
    assert flow_sid("triage") != sid


def test_definition_hash_ignores_key_order_and_sees_changes() -> None:
    definition = json.loads(GREETING.read_text(encoding="utf-8"))
    reordered = dict(reversed(list(definition.items())))
    assert definition_hash(reordered) == definition_hash(definition)
    changed = {**definition, "description": "changed"}
    assert definition_hash(changed) != definition_hash(definition)
    assert re.fullmatch(r"[0-9a-f]{64}", definition_hash(definition))
