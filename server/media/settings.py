"""The media settings, from ``THREADLINE_MEDIA_*`` variables (defaults need nothing set)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 16 * 1024 * 1024  # WhatsApp's limit for video and audio
DEFAULT_URL_TTL_SECONDS = 7 * 24 * 3600
DEFAULT_FETCH_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class MediaSettings:
    max_bytes: int = DEFAULT_MAX_BYTES
    # How long a signed media URL stays valid after it is made (flows, agents and providers
    # fetching our outbound media all use the URL within this time).
    url_ttl_seconds: int = DEFAULT_URL_TTL_SECONDS
    # A message's whole download (every hop of every file) must end within this: the flow or
    # agent waits for it.
    fetch_timeout_seconds: float = DEFAULT_FETCH_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MediaSettings:
        env = os.environ if environ is None else environ
        return cls(
            max_bytes=_positive_int(env, "THREADLINE_MEDIA_MAX_BYTES", DEFAULT_MAX_BYTES),
            url_ttl_seconds=_positive_int(
                env, "THREADLINE_MEDIA_URL_TTL_SECONDS", DEFAULT_URL_TTL_SECONDS
            ),
            fetch_timeout_seconds=float(
                _positive_int(
                    env,
                    "THREADLINE_MEDIA_FETCH_TIMEOUT_SECONDS",
                    int(DEFAULT_FETCH_TIMEOUT_SECONDS),
                )
            ),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return int(raw)
