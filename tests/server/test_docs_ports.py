"""The documentation's example URLs use the port ``threadline serve`` listens on by default."""

from __future__ import annotations

import inspect
import re

from server import serve
from tests.server.conftest import REPO

# URLs of Threadline's own paths (other local services, such as a test double for Twilio's API
# on another port, are left alone).
LOCAL_URL = re.compile(
    r"(?:localhost|127\.0\.0\.1|HOST):(\d+)/(?:desk|api|webchat|channels|agents|healthz|metrics)"
)


def test_docs_use_the_default_port() -> None:
    default = inspect.signature(serve.run).parameters["port"].default
    found = {}
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for port in LOCAL_URL.findall(page.read_text(encoding="utf-8")):
            found.setdefault(int(port), []).append(page.name)
    assert default in found
    assert {port: pages for port, pages in found.items() if port != default} == {}
