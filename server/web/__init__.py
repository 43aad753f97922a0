"""HTTP and WebSocket endpoints: they turn requests into runtime calls, nothing more."""
