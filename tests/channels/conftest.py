"""Shared fixtures for the channel tests: the fake provider APIs, and (for the server tests) the
real server process from tests/server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.fakes import FakeGraphApi, FakeTwilioApi
from tests.server.conftest import flows_dir, server_factory  # noqa: F401  (fixtures)


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        yield api


@pytest.fixture
def graph_api() -> Iterator[FakeGraphApi]:
    with FakeGraphApi() as api:
        yield api
