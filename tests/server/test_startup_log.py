"""What a new user meets first: ``threadline serve`` says where it listens, which flow, routing
file and channels it runs with, and pages get an icon instead of a 404 for /favicon.ico."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.server.conftest import free_port
from tests.server.test_serve_flags import Serve, flows_with, serve

__all__ = ["serve"]


def test_serve_logs_url_default_flow_routing_file_and_channels(
    serve: Serve, tmp_path: Path
) -> None:
    port = free_port()
    routing = tmp_path / "my-routing.json"
    routing.write_text("{}", encoding="utf-8")
    apps = tmp_path / "apps.json"
    apps.write_text(json.dumps({"apps": [{"id": "shop-ios", "secret": "s"}]}), encoding="utf-8")
    env = {
        "THREADLINE_ROUTING_FILE": str(routing),
        "THREADLINE_APPS_FILE": str(apps),
        "THREADLINE_TWILIO_ACCOUNT_SID": "AC0123",
        "THREADLINE_TWILIO_AUTH_TOKEN": "secret-token",
    }
    flags = ["--port", str(port), "--data-dir", str(tmp_path / "data")]
    base = serve([*flags, "--flows", str(flows_with(tmp_path, "x"))], env, port)
    log = (tmp_path / f"serve-{port}.log").read_text()
    assert f"listening on http://127.0.0.1:{port}/ " in log
    assert f"agent desk http://127.0.0.1:{port}/desk/" in log
    assert "default flow: greeting (version 1)" in log
    assert f"routing file: {routing}" in log
    channels = next(line for line in log.splitlines() if "channels: " in line)
    assert "Twilio SMS/WhatsApp (account AC0123" in channels
    assert "web chat (accounts: default)" in channels
    assert "app messaging (apps: shop-ios)" in channels
    assert "secret-token" not in log

    icon = httpx.get(base + "/favicon.ico", timeout=10)
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")


def test_without_a_routing_file_serve_says_the_defaults_are_used(
    serve: Serve, tmp_path: Path
) -> None:
    port = free_port()
    flags = ["--port", str(port), "--data-dir", str(tmp_path / "data")]
    serve([*flags, "--flows", str(flows_with(tmp_path, "y"))], {}, port)
    log = (tmp_path / f"serve-{port}.log").read_text()
    assert "routing file: none (the router's defaults)" in log
