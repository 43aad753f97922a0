"""The widget end to end in headless Chromium, embedded by a page on another origin."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import REPO, ServerProcess
from tests.webchat.conftest import write_png

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)

HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<style>button {{ background: hotpink !important; }}</style></head>
<body><h1>A shop</h1>
<script src="{base}/webchat/widget.js" data-channel="greet" async></script>
</body></html>"""


@pytest.fixture
def browser_server(tmp_path: Path) -> Iterator[ServerProcess]:
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows / "greeting.json")
    data = tmp_path / "data"
    data.mkdir()
    (data / "webchat.json").write_text('{"greet": {"greeting": true, "title": "Shop help"}}')
    server = ServerProcess(data, flows)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def host_site(tmp_path: Path, browser_server: ServerProcess) -> Iterator[str]:
    """The embedding site: a static server on its own port (another origin)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(HOST_PAGE.format(base=browser_server.base))
    (site / "other.html").write_text(HOST_PAGE.format(base=browser_server.base))
    plain = HOST_PAGE.format(base=browser_server.base).replace('"greet"', '"default"')
    (site / "plain.html").write_text(plain)  # an account without a greeting
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None  # type: ignore[assignment,method-assign]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_widget_in_chromium(browser_server: ServerProcess, host_site: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    image = write_png(tmp_path / "photo.png")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 390, "height": 760})  # a phone
        page.goto(host_site + "/index.html")
        launcher = page.get_by_role("button", name="Open chat")
        expect(launcher).to_be_visible()
        # Nothing stored and no socket before the visitor opens the widget.
        assert page.evaluate("Object.keys(localStorage).length") == 0
        launcher.click()
        dialog = page.get_by_role("dialog", name="Shop help")
        expect(dialog).to_be_visible()
        messages = page.locator(".msg[data-seq]")
        # The proactive greeting: the flow speaks first.
        expect(messages.first).to_contain_text("What can I help you with", timeout=15000)
        # The host page's hotpink buttons do not reach inside the Shadow DOM.
        color = page.get_by_role("button", name="Billing").evaluate(
            "b => getComputedStyle(b).backgroundColor"
        )
        assert color != "rgb(255, 105, 180)"
        page.get_by_role("button", name="Billing").click()
        expect(messages).to_have_count(3, timeout=10000)
        expect(messages.nth(2)).to_contain_text("billing team")
        # Upload an image: shown inline.
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="Attach a file").click()
        chooser.value.set_files(str(image))
        expect(messages).to_have_count(5, timeout=10000)  # the flow takes it as the details
        expect(messages.nth(4)).to_contain_text("with your details")
        img = messages.nth(3).locator("img")
        expect(img).to_be_visible()
        page.wait_for_function(
            "() => { const i = document.querySelector('[data-threadline]').shadowRoot"
            ".querySelector('.msg img'); return i && i.complete && i.naturalWidth === 24; }"
        )
        # Escape closes and gives focus back to the launcher.
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        # Reload and navigate: the session and its history come back.
        page.goto(host_site + "/other.html")
        page.get_by_role("button", name="Open chat").click()
        expect(messages).to_have_count(5, timeout=10000)
        expect(messages.nth(3).locator("img")).to_be_visible()
        # The socket drops (server restarted): reconnect resumes, nothing lost or repeated.
        browser_server.stop()
        browser_server.start()
        page.evaluate("window.Threadline._dropConnection()")
        textbox = page.get_by_role("textbox", name="Message")
        textbox.fill("hello again")
        textbox.press("Enter")
        expect(messages).to_have_count(7, timeout=20000)
        expect(messages.nth(6)).to_contain_text("What can I help you with")
        page.wait_for_timeout(500)  # any late duplicate would show up here
        seqs = messages.evaluate_all("els => els.map(e => Number(e.dataset.seq))")
        assert seqs == [1, 2, 3, 4, 5, 6, 7]
        ids = messages.evaluate_all("els => els.map(e => e.dataset.id)")
        assert len(set(ids)) == 7
        assert page.locator(".msg.pending").count() == 0
        page.screenshot(path=str(tmp_path / "widget.png"))
        # Logout: a new session, nothing of the old one shown.
        page.evaluate("window.Threadline.reset()")
        expect(messages.first).to_contain_text("What can I help you with", timeout=15000)
        expect(messages).to_have_count(1)
        browser.close()
    assert (tmp_path / "widget.png").stat().st_size > 1000
    print("screenshot:", tmp_path / "widget.png")


def _conversations(server: ServerProcess) -> int:
    with contextlib.closing(sqlite3.connect(server.data_dir / "threadline.db")) as db:
        return int(db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0])


def _launch(p: Any) -> Any:
    return p.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-component-update"],
    )


def test_widget_stores_nothing_until_the_visitor_writes(
    browser_server: ServerProcess, host_site: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = _launch(p)
        context = browser.new_context()
        page = context.new_page()
        page.goto(host_site + "/plain.html")
        page.get_by_role("button", name="Open chat").click()
        page.wait_for_function("() => localStorage.getItem('threadline:default:token')")
        assert _conversations(browser_server) == 0  # the chat is open, nothing is stored
        # A second tab of the same visitor (same token), open before anything was written.
        tab = context.new_page()
        tab.goto(host_site + "/plain.html")
        tab.get_by_role("button", name="Open chat").click()
        textbox = page.get_by_role("textbox", name="Message")
        textbox.fill("hello")
        textbox.press("Enter")
        for each in (page, tab):
            messages = each.locator(".msg[data-seq]")
            expect(messages).to_have_count(2, timeout=15000)
            expect(messages.nth(1)).to_contain_text("What can I help you with")
        assert _conversations(browser_server) == 1
        browser.close()
