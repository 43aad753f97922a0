"""``threadline serve``: each flag's default comes from its documented variable, and the flag
wins over the variable. Run as a user runs it, from a directory of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import ADMIN_TOKEN, REPO, free_port

THREADLINE = Path(sys.executable).with_name("threadline")  # the installed console script
VARIABLES = ("THREADLINE_HOST", "THREADLINE_PORT", "THREADLINE_DATA_DIR", "THREADLINE_FLOWS_DIR")

# (serve's arguments, environment, the port it must listen on) -> its base URL once healthy
Serve = Callable[[list[str], dict[str, str], int], str]


def flows_with(root: Path, marker: str) -> Path:
    """A flows directory: the default flow, and a flow whose name says which directory it is."""
    flows = root / f"flows-{marker}"
    flows.mkdir()
    greeting = (REPO / "flows" / "greeting.json").read_text()
    (flows / "greeting.json").write_text(greeting)
    (flows / f"{marker}.json").write_text(greeting)
    return flows


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    started: list[subprocess.Popen[bytes]] = []

    def run(args: list[str], env: dict[str, str], port: int) -> str:
        """Start ``threadline serve ARGS`` in an empty directory; its base URL once healthy."""
        workdir = tmp_path / f"cwd-{port}"
        workdir.mkdir()
        log = (tmp_path / f"serve-{port}.log").open("wb")
        # Empty counts as unset: whatever this machine's environment holds is left out.
        blank = dict.fromkeys(VARIABLES, "")
        full_env = {**os.environ, **blank, "THREADLINE_ADMIN_TOKEN": ADMIN_TOKEN, **env}
        proc = subprocess.Popen(
            [str(THREADLINE), "serve", *args],
            cwd=workdir,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                time.sleep(0.1)
        log_text = (tmp_path / f"serve-{port}.log").read_text(errors="replace")
        raise AssertionError(f"no server on port {port}:\n{log_text}")

    yield run
    for proc in started:
        proc.terminate()
        proc.wait(timeout=20)


def flow_names(base: str) -> set[str]:
    response = httpx.get(
        base + "/api/v1/flows", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return {flow["name"] for flow in response.json()["flows"]}


def test_every_flag_defaults_to_its_variable(serve: Serve, tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data-from-env"
    env = {
        "THREADLINE_HOST": "127.0.0.1",
        "THREADLINE_PORT": str(port),
        "THREADLINE_DATA_DIR": str(data),
        "THREADLINE_FLOWS_DIR": str(flows_with(tmp_path, "from_env")),
    }
    base = serve([], env, port)
    assert "from_env" in flow_names(base)
    assert (data / "threadline.db").exists()


def test_flags_win_over_variables(serve: Serve, tmp_path: Path) -> None:
    env_port, flag_port = free_port(), free_port()
    env_data, flag_data = tmp_path / "data-from-env", tmp_path / "data-from-flag"
    env = {
        "THREADLINE_HOST": "localhost.invalid",  # a host that cannot be bound: the flag must win
        "THREADLINE_PORT": str(env_port),
        "THREADLINE_DATA_DIR": str(env_data),
        "THREADLINE_FLOWS_DIR": str(flows_with(tmp_path, "from_env")),
    }
    flags = [
        *("--host", "127.0.0.1", "--port", str(flag_port), "--data-dir", str(flag_data)),
        *("--flows", str(flows_with(tmp_path, "from_flag"))),
    ]
    base = serve(flags, env, flag_port)
    names = flow_names(base)
    assert "from_flag" in names and "from_env" not in names
    assert (flag_data / "threadline.db").exists() and not env_data.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{env_port}/healthz", timeout=2)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("THREADLINE_FLOW_CONCURRENCY", "0", "a whole number of at least 1, not '0'"),
        ("THREADLINE_FLOW_CONCURRENCY", "many", "a whole number of at least 1, not 'many'"),
        ("THREADLINE_WEBCHAT_SESSIONS_PER_MINUTE", "-1", "a whole number of at least 0, not '-1'"),
        ("THREADLINE_MAX_UPLOAD_BYTES", "10MB", "a whole number of at least 1, not '10MB'"),
        ("THREADLINE_HEADER_TIMEOUT_SECONDS", "inf", "a positive number of seconds, not 'inf'"),
    ],
)
def test_an_unusable_setting_stops_serve_with_a_clear_message(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    result = subprocess.run(
        [str(THREADLINE), "serve", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], variable: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"threadline serve: {variable} must be {message}"
