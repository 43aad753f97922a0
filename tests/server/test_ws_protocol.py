"""The lean WebSocket protocol: its queue and flag behave as the asyncio ones uvicorn uses, and
with the installed uvicorn the replacements really take effect (else the saving is silently
lost; the web chat and agent tests cover the protocol end to end through real servers)."""

from __future__ import annotations

import asyncio

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from server.web.ws_protocol import Flag, LeanWebSocketProtocol, Mailbox


async def test_mailbox_hands_items_over_in_order_and_waits_when_empty() -> None:
    box = Mailbox()
    assert box.empty() and box.qsize() == 0
    box.put_nowait(1)
    box.put_nowait(2)
    assert box.qsize() == 2 and await box.get() == 1 and await box.get() == 2
    waiting = asyncio.ensure_future(box.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    box.put_nowait(3)
    assert await asyncio.wait_for(waiting, 1) == 3
    assert box.empty()


async def test_a_cancelled_get_leaves_the_mailbox_usable() -> None:
    box = Mailbox()
    waiting = asyncio.ensure_future(box.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    box.put_nowait("next")
    assert await asyncio.wait_for(box.get(), 1) == "next"


async def test_flag_releases_every_waiter_and_can_be_cleared() -> None:
    flag = Flag()
    waiters = [asyncio.ensure_future(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    await asyncio.wait_for(asyncio.gather(*waiters), 1)
    assert flag.is_set()
    flag.clear()
    assert not flag.is_set()
    late = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    assert not late.done()
    flag.set()
    await asyncio.wait_for(late, 1)


async def test_the_installed_uvicorn_takes_the_lighter_state() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    config = Config(app=app, ws=LeanWebSocketProtocol)
    config.load()
    protocol = LeanWebSocketProtocol(config=config, server_state=ServerState(), app_state={})
    assert isinstance(protocol.queue, Mailbox)
    assert isinstance(protocol.writable, Flag) and protocol.writable.is_set()
