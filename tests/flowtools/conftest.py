"""The real-server fixtures of tests/server, shared with these tests."""

from tests.server.conftest import flows_dir, server_factory

__all__ = ["flows_dir", "server_factory"]
