"""The real-server fixtures of tests/server, for the widgets' end-to-end tests."""

from tests.server.conftest import server_factory

__all__ = ["server_factory"]
