"""Shared fixtures for the channel adapter tests: the fake provider APIs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.fakes import FakeGraphApi, FakeTwilioApi


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        yield api


@pytest.fixture
def graph_api() -> Iterator[FakeGraphApi]:
    with FakeGraphApi() as api:
        yield api
