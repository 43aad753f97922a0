"""The hypothesis profile of the fuzz tests, and the one server they all fuzz (docs/testing.md).

By default (CI) every property runs a moderate, fixed set of examples: ``derandomize`` makes
each run try the same inputs, so a red build always means a change broke something, never that
the dice found an old bug today. ``THREADLINE_FUZZ_EXAMPLES=N`` is for long local runs: N
examples per property, random ones, with hypothesis's example database on (``.hypothesis/``),
so a failure found once is replayed first on the next run.

Every module fuzzes the same real ``threadline serve``: starting a server costs about two
seconds, and a server that has already taken every other kind of hostile input is the harder
test. Each example checks the server's log since the previous example, so a failure is still
pinned on the input that caused it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine

from tests.channels.fakes import FakeGraphApi, FakeTwilioApi
from tests.channels.server_helpers import meta_env, twilio_env
from tests.fuzz.support import (
    APPS,
    WatchedServer,
    examples,
    long_run,
    read_only_database,
    start_server,
)

# The server is a session fixture shared by every example; generated bodies are large on
# purpose; examples that talk to a server are slow by hypothesis's standards.
_RELAXED = [
    HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
]

settings.register_profile(
    "threadline-ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=_RELAXED,
)
settings.register_profile(
    "threadline-long",
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=_RELAXED,
)
settings.load_profile("threadline-long" if long_run() else "threadline-ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A long run's properties take longer than pytest-timeout's 120 s (pyproject.toml): give
    each a second an example on top, so a timeout still means a hang."""
    if not long_run():
        return
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.timeout(120 + examples(0)))


@pytest.fixture(scope="session")
def twilio_api() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        yield api


@pytest.fixture(scope="session")
def graph_api() -> Iterator[FakeGraphApi]:
    with FakeGraphApi() as api:
        yield api


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, twilio_api: FakeTwilioApi, graph_api: FakeGraphApi
) -> Iterator[WatchedServer]:
    """One server with every channel on: Twilio and Meta (both faked), the web chat, the app
    API and the agent desk."""
    apps = tmp_path_factory.mktemp("fuzz-apps") / "apps.json"
    apps.write_text(json.dumps(APPS))
    env = {
        **twilio_env(twilio_api),
        **meta_env(graph_api),
        "THREADLINE_APPS_FILE": str(apps),
        # Every reconnect after a close counts as a new web chat session: no per-address limit.
        "THREADLINE_WEBCHAT_SESSIONS_PER_MINUTE": "0",
    }
    watched = start_server(tmp_path_factory, "fuzz", env)
    yield watched
    watched.stop()


@pytest.fixture(scope="session")
def database(server: WatchedServer) -> Iterator[Engine]:
    """The server's own SQLite database, read-only."""
    engine = read_only_database(server.process.data_dir)
    yield engine
    engine.dispose()
