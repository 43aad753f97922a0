"""App messaging: the channel mobile and custom apps use through the app API (``/api/app/v1``).

Pure parsing and rendering only (no I/O): ``apps`` reads the configured apps, ``signature``
checks signed user ids, ``identity`` names app users as contact identities, ``requests``
validates API bodies, ``frames`` speaks the WebSocket.
"""
