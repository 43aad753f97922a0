"""The fake provider APIs of the channel tests, for the media tests."""

from tests.channels.conftest import graph_api, twilio_api  # noqa: F401  (fixtures)
