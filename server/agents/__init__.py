"""Agents: the routing service around the sans-IO router, credentials, and the agent protocol.

See docs/agents.md and docs/agent-protocol.md.
"""
