"""The ``threadline`` CLI, run as a real subprocess the way users and CI run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from server.cli import build_parser, run_serve

REPO = Path(__file__).resolve().parents[2]
STUDIO = REPO.parent / "shared" / "fixtures" / "studio"
NPS = STUDIO / "nps-survey.json"
GREETING = Path(__file__).parent / "data" / "greeting.json"

PASSING_SCRIPT = """\
# NPS survey: a wrong answer, a score, then the feedback question times out
> hi
< /^👋 Ahoy!\\n\\nOn a scale of 1-10/
> eleven
< I'm sorry, I didn't understand. Please enter a number from 1 - 10.
< /On a scale of 1-10/
> 9
< /^Is there any other feedback/
@http {"status": 200, "json": {"result": "success"}}
~ timeout
< /^We value your feedback! Thank you for sharing it!/
"""


def threadline(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_validate_reports_ok_for_each_valid_file() -> None:
    result = threadline("flows", "validate", str(STUDIO))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"ok  {p}" for p in sorted(STUDIO.glob("*.json"))]


def test_validate_prints_every_issue_and_exits_1(tmp_path: Path) -> None:
    flow = json.loads(GREETING.read_text(encoding="utf-8"))
    flow["states"][4]["type"] = "say-play"
    flow["states"][1]["transitions"][0]["next"] = "nowhere"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(flow), encoding="utf-8")
    garbled = tmp_path / "garbled.json"
    garbled.write_text('{"states": [\n', encoding="utf-8")

    result = threadline("flows", "validate", str(GREETING), str(bad), str(garbled))

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"ok  {GREETING}"
    assert f"{bad}: state 'greet': property 'transitions[0].next': names no state: 'nowhere'" in (
        lines
    )
    assert any(line.startswith(f"{bad}: state 'bye': widget type 'say-play'") for line in lines)
    assert any(line.startswith(f"{garbled}: invalid JSON at line 2") for line in lines)
    assert "2 of 3 flow files invalid" in result.stderr


def test_validate_a_missing_file_fails() -> None:
    result = threadline("flows", "validate", "no/such/flow.json")
    assert result.returncode == 1
    assert result.stdout.startswith("no/such/flow.json: cannot read file")


def test_run_script_that_matches_exits_0(tmp_path: Path) -> None:
    script = tmp_path / "nps.script"
    script.write_text(PASSING_SCRIPT, encoding="utf-8")
    result = threadline("flows", "run", str(NPS), "--script", str(script))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "you> eleven" in result.stdout
    assert "-> 200 (recorded)" in result.stdout
    assert result.stdout.rstrip().endswith(f"ok  {script}: 5 bot replies matched")


def test_run_script_mismatch_exits_1_with_line_expected_and_got(tmp_path: Path) -> None:
    script = tmp_path / "nps.script"
    script.write_text(
        PASSING_SCRIPT.replace("< /^Is there any other feedback/", "< Thanks, bye!"),
        encoding="utf-8",
    )
    result = threadline("flows", "run", str(NPS), "--script", str(script))
    assert result.returncode == 1
    assert (
        f"{script}: mismatch at line 8: expected bot reply 'Thanks, bye!', "
        "got 'Is there any other feedback" in result.stderr
    )


def test_run_script_with_an_unmet_final_expectation_fails(tmp_path: Path) -> None:
    script = tmp_path / "short.script"
    script.write_text("> hi\n< /Ahoy/\n< And one more thing\n", encoding="utf-8")
    result = threadline("flows", "run", str(NPS), "--script", str(script))
    assert result.returncode == 1
    assert "line 3: expected bot reply 'And one more thing', got no reply" in result.stderr


def test_run_finds_a_flow_by_name_and_chats_over_stdin(tmp_path: Path) -> None:
    (tmp_path / "greeting.json").write_text(GREETING.read_text(encoding="utf-8"))
    result = threadline(
        "flows", "run", "greeting", "--flows", str(tmp_path), "--from", "+15557654321",
        stdin="ada\n2\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "bot> Hi ADA! What do you need?\n     1. Sales\n     2. Support" in result.stdout
    assert "bot> Connecting you to support." in result.stdout


def test_run_refuses_an_invalid_flow(tmp_path: Path) -> None:
    flow = tmp_path / "broken.json"
    flow.write_text('{"states": []}', encoding="utf-8")
    result = threadline("flows", "run", str(flow))
    assert result.returncode == 2
    assert f"{flow}: property 'initial_state': required property missing" in result.stderr


def test_serve_options_reach_the_serve_command() -> None:
    args = build_parser().parse_args(
        ["serve", "--host", "0.0.0.0", "--port", "9000", "--data-dir", "d", "--flows", "f"]
    )
    assert args.handler is run_serve
    assert (args.host, args.port, args.data_dir, args.flows_dir) == (
        "0.0.0.0",
        9000,
        Path("d"),
        Path("f"),
    )


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "threadline"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "serve" in result.stdout and "flows" in result.stdout
