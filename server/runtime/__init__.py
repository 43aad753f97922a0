"""The runtime: the only layer that awaits. It turns I/O into engine events and performs effects."""
