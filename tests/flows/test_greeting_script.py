"""The shipped greeting flow passes its shipped script, and a wrong expectation fails it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "flows",
            "run",
            "flows/greeting.json",
            "--script",
            str(script),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_greeting_script_passes() -> None:
    result = run(REPO / "flows" / "greeting.script")
    assert result.returncode == 0, result.stdout + result.stderr


def test_wrong_expectation_fails_with_the_line(tmp_path: Path) -> None:
    script = tmp_path / "wrong.script"
    script.write_text("> hello\n< /What can I help you with today/\n> billing\n< Goodbye!\n")
    result = run(script)
    assert result.returncode == 1
    assert "line 4" in result.stdout + result.stderr


def test_validate_skips_the_schema_beside_the_flows() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "flows",
            "validate",
            *map(str, sorted((REPO / "flows").glob("*.json"))),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skip" in result.stdout and "flow.schema.json" in result.stdout
    assert "ok  " in result.stdout and "greeting.json" in result.stdout
