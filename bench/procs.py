"""Processes the benchmarks start: Threadline servers and helpers, on loopback, free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gauge(base: str, name: str) -> float | None:
    """A gauge's value on a server's /metrics (None when it cannot be read)."""
    try:
        text = httpx.get(base + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def start_helper(args: list[str], port: int) -> subprocess.Popen[bytes]:
    """``python -m ARGS`` (a fake API or a baseline app on ``port``), once it answers HTTP."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{args[0]} did not start")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Server:
    def __init__(
        self, data_dir: Path, flows_dir: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.flows_dir = flows_dir or REPO / "flows"
        self.port = free_port()
        self.env = {
            **os.environ,
            "THREADLINE_ADMIN_TOKEN": "bench",
            "THREADLINE_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start and wait for /healthz; returns the seconds it took."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "server.log").open("ab")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--flows",
                str(self.flows_dir),
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: see {self.data_dir / 'server.log'}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    took = time.perf_counter() - self.started_at
                    self._settle(deadline)
                    return took
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise RuntimeError("server did not start in 120 s")

    def _settle(self, deadline: float) -> None:
        """Wait for the server's start-up work to end: the flows' bot-triage classifiers train
        in the background once loaded, and a measurement taken meanwhile would share the
        machine with that training."""
        while time.monotonic() < deadline:
            if not gauge(self.base, "threadline_nlu_flows_training"):
                return
            time.sleep(0.2)
        raise RuntimeError("the server's flows did not finish training in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
