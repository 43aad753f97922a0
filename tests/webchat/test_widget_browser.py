"""Issue 18 in headless Chromium against a real server: a message typed before the socket's
session frame, following the visitor into a new conversation after an agent closed theirs, the
host page's CSS kept out, the greeting of an empty panel and message times."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, async_playwright, expect

from tests.agents.conftest import AgentClient, create_agent
from tests.server.conftest import ServerProcess
from tests.webchat.conftest import GREETING, WELCOME

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)


@pytest.fixture
def shop_site(tmp_path: Path, chat_server: ServerProcess) -> Iterator[str]:
    """A page of the "shop" account on its own port (another origin, on loopback: Chromium
    lets only loopback pages reach the loopback server)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "shop.html").write_text(
        "<!doctype html><title>Shop</title><h1>Shop</h1>"
        f'<script src="{chat_server.base}/webchat/widget.js" data-channel="shop"></script>'
    )
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None  # type: ignore[assignment,method-assign]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-component-update"],
        )
        yield launched
        await launched.close()


def stored_count(server: ServerProcess, text: str) -> int:
    with contextlib.closing(sqlite3.connect(server.data_dir / "threadline.db")) as db:
        return int(
            db.execute("SELECT COUNT(*) FROM messages WHERE text = ?", (text,)).fetchone()[0]
        )


class HeldSocket:
    """Holds back what the server sends on the widget's socket until ``release``: the widget
    sees its socket open but no ``session`` frame, as on a slow network or a loaded server."""

    def __init__(self) -> None:
        self.holding = True
        self.held: list[tuple[WebSocketRoute, str | bytes]] = []
        self.sockets = 0

    async def route(self, page: Page) -> None:
        await page.route_web_socket(re.compile(r"/channels/webchat/ws"), self._handle)

    def _handle(self, page_side: WebSocketRoute) -> None:
        self.sockets += 1
        server_side = page_side.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if self.holding:
                self.held.append((page_side, message))
            else:
                page_side.send(message)

        server_side.on_message(from_server)

    def release(self) -> None:
        self.holding = False
        for page_side, message in self.held:
            page_side.send(message)
        self.held.clear()


async def type_message(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")


async def wait_held(held: HeldSocket, page: Page) -> None:
    for _ in range(200):
        if held.held:
            return
        await page.wait_for_timeout(50)
    raise AssertionError("the server never answered the widget's socket")


async def test_messages_typed_before_the_session_frame_are_sent_once_in_order(
    chat_server: ServerProcess, browser: Browser
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(chat_server.base + "/")
    messages = page.locator(".msg[data-seq]")
    await page.get_by_role("button", name="Open chat").click()
    await type_message(page, "first visit")
    await expect(messages.filter(has_text=GREETING)).to_have_count(1, timeout=15000)

    # A returning visitor: the socket opens at page load; the session frame comes late.
    held = HeldSocket()
    await held.route(page)
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    await wait_held(held, page)  # the server has answered: only the browser does not know yet
    await type_message(page, "typed early")
    await type_message(page, "and early again")
    pending = page.locator(".msg.pending")
    await expect(pending).to_have_count(2)
    held.release()
    await expect(messages.filter(has_text="typed early")).to_have_count(1, timeout=15000)
    await expect(messages.filter(has_text="and early again")).to_have_count(1, timeout=15000)
    await expect(pending).to_have_count(0)
    texts = await messages.evaluate_all("els => els.map(e => e.textContent)")
    mine = [t for t in texts if "early" in t]
    assert [t.split("early")[0] for t in mine] == ["typed ", "and "]  # in the order typed
    await page.wait_for_timeout(500)  # a late duplicate would show up here
    assert stored_count(chat_server, "typed early") == 1
    assert stored_count(chat_server, "and early again") == 1
    await expect(page.locator(".msg", has_text="typed early")).to_have_count(1)

    # A new visitor on a new page, same delay.
    fresh = await browser.new_page()
    held_fresh = HeldSocket()
    await held_fresh.route(fresh)
    await fresh.goto(chat_server.base + "/")
    await fresh.get_by_role("button", name="Open chat").click()
    await wait_held(held_fresh, fresh)
    await type_message(fresh, "new visitor, early")
    held_fresh.release()
    fresh_messages = fresh.locator(".msg[data-seq]")
    await expect(fresh_messages.filter(has_text="new visitor, early")).to_have_count(
        1, timeout=15000
    )
    await expect(fresh_messages.filter(has_text=GREETING)).to_have_count(1, timeout=15000)
    assert stored_count(chat_server, "new visitor, early") == 1
    await context.close()


async def test_the_widget_follows_the_visitor_into_a_new_conversation(
    chat_server: ServerProcess, browser: Browser, tmp_path: Path
) -> None:
    agent = create_agent(chat_server, "dee", attributes={"skills": {"billing": 3}})
    dee = await AgentClient.connect(chat_server, agent["token"])
    page = await browser.new_page()
    await page.goto(chat_server.base + "/")
    await page.get_by_role("button", name="Open chat").click()
    await type_message(page, "first question")
    current = page.locator(".msg[data-seq]")
    await expect(current.filter(has_text=GREETING)).to_have_count(1, timeout=15000)
    offer = await dee.frame("offer")
    cid = offer["conversation_id"]
    await dee.send("accept", conversation_id=cid)
    await dee.frame("assigned")
    await dee.send("reply", conversation_id=cid, text="Dee here, all sorted")
    await expect(current.filter(has_text="Dee here, all sorted")).to_have_count(1, timeout=10000)
    await dee.send("close", conversation_id=cid, disposition="resolved")
    await dee.frame("closed")

    await type_message(page, "one more thing")
    # The new conversation, live: the visitor's message and the bot's answer (hand-off notices
    # may come between the messages of either conversation: only ours are checked, in order).
    await expect(current.filter(has_text="one more thing")).to_have_count(1, timeout=15000)
    await expect(current.filter(has_text=GREETING)).to_have_count(1, timeout=15000)
    # The earlier one stays above, after a divider, its messages out of the current log.
    earlier = page.locator(".earlier .msg")
    await expect(earlier.filter(has_text="first question")).to_have_count(1)
    await expect(earlier.filter(has_text="Dee here, all sorted")).to_have_count(1)
    await expect(current.filter(has_text="first question")).to_have_count(0)
    await expect(page.get_by_role("separator")).to_have_count(1)
    await page.screenshot(path=str(tmp_path / "new-conversation.png"))

    ours = ["first question", GREETING, "Dee here, all sorted", "--", "one more thing", GREETING]

    async def transcript() -> list[str]:
        # Each message's own text (whatever else the bubble shows: a name, its time).
        texts: list[str] = await page.locator(".log .msg, .log .divider").evaluate_all(
            """(els, ours) => els.map(e => e.matches('.divider') ? '--'
                : [...e.children].map(c => c.textContent).find(t => ours.includes(t)))""",
            ours,
        )
        return [t for t in texts if t]

    assert await transcript() == ours
    # A reload shows both too, and each message once.
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    await expect(current.filter(has_text=GREETING)).to_have_count(1, timeout=15000)
    await expect(earlier.filter(has_text="Dee here, all sorted")).to_have_count(1, timeout=15000)
    assert await transcript() == ours
    await page.locator(".log").evaluate("log => { log.scrollTop = 0; }")
    await page.screenshot(path=str(tmp_path / "after-reload.png"))
    await dee.close()


async def test_the_demo_page_css_does_not_reach_the_widget(
    chat_server: ServerProcess, browser: Browser
) -> None:
    page = await browser.new_page()
    await page.goto(chat_server.base + "/")
    # The demo page is hostile on purpose: prove it is, outside the widget.
    hostile = await page.locator("main p").first.evaluate(
        "e => getComputedStyle(e.parentElement.appendChild(document.createElement('div')))"
        ".letterSpacing"
    )
    assert hostile == "2px"
    await page.get_by_role("button", name="Open chat").click()
    await type_message(page, "style check")
    message = page.locator(".msg[data-seq]").first
    await expect(message).to_contain_text("style check", timeout=15000)
    style = await message.evaluate(
        """e => { const s = getComputedStyle(e), t = getComputedStyle(e.querySelector('div'));
        return {letterSpacing: t.letterSpacing, wordSpacing: t.wordSpacing,
                textTransform: t.textTransform, fontStyle: t.fontStyle,
                direction: s.direction, textAlign: t.textAlign, textShadow: t.textShadow,
                fontFamily: t.fontFamily, lineHeight: s.lineHeight, fontSize: s.fontSize}; }"""
    )
    assert style["letterSpacing"] == "normal"
    assert style["wordSpacing"] == "0px"
    assert style["textTransform"] == "none"
    assert style["fontStyle"] == "normal"
    assert style["direction"] == "ltr"
    assert style["textShadow"] == "none"
    assert "Georgia" not in style["fontFamily"]
    assert style["fontSize"] == "15px"
    title = page.get_by_role("heading", name="Help")
    assert await title.evaluate("e => getComputedStyle(e).letterSpacing") == "normal"


async def test_an_empty_panel_greets_and_messages_show_their_time(
    chat_server: ServerProcess, browser: Browser, shop_site: str, tmp_path: Path
) -> None:
    context = await browser.new_context(timezone_id="UTC", locale="en-GB")
    page = await context.new_page()
    await page.goto(shop_site + "/shop.html")
    await page.get_by_role("button", name="Open chat").click()
    welcome = page.locator(".welcome")
    await expect(welcome).to_have_text(WELCOME)
    await page.screenshot(path=str(tmp_path / "welcome.png"))
    await type_message(page, "what time is it")
    first = page.locator(".msg[data-seq]").first
    await expect(first).to_contain_text("what time is it", timeout=15000)
    await expect(welcome).to_be_hidden()
    stamp = first.locator("time")
    await expect(stamp).to_have_text(re.compile(r"^\d\d:\d\d$"))
    when = datetime.fromisoformat(str(await stamp.get_attribute("datetime")))
    assert await stamp.inner_text() == when.astimezone(UTC).strftime("%H:%M")

    # An account without a welcome text: a placeholder, never an empty panel.
    plain = await context.new_page()
    await plain.goto(chat_server.base + "/")
    await plain.get_by_role("button", name="Open chat").click()
    placeholder = plain.locator(".welcome")
    await expect(placeholder).to_be_visible()
    assert (await placeholder.inner_text()).strip()
    await context.close()
