"""Web chat: JSON frames over a WebSocket at ``/channels/webchat/ws`` (see docs/webchat.md)."""
