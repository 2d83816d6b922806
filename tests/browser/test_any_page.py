"""What any page of a feature gets from the layout and the shipped scripts, in a real browser:
pushes through static/js/live.js without the dashboard's live panel, and a favicon."""

from __future__ import annotations

import time

import pytest
import requests

from flask_keel.client import Client
from flask_keel.testing.browser import sign_up

pytestmark = pytest.mark.integration


def test_live_js_delivers_pushes_on_a_page_without_the_live_panel(live_server, new_page):
    server = live_server(migrate=True)
    page = new_page()
    sign_up(page, server.url, "petra")

    # The dashboard as a feature's own page would be: live.js and the Socket.IO client, but
    # neither #live-status nor #live-events. They are renamed as the parser adds them, before
    # live.js runs (the parser runs pending observers before a script); a page served by
    # page.route() would be refused the loopback socket by Chromium's local network checks.
    page.add_init_script("""new MutationObserver(() => {
        for (const id of ["live-events", "live-status"]) {
            const element = document.getElementById(id);
            if (element) { element.id = "renamed-" + id; }
        }
    }).observe(document, {childList: true, subtree: true});""")
    page.goto(server.url + "/dashboard")
    assert page.locator("#live-events, #live-status").count() == 0
    assert page.locator("#renamed-live-events").count() == 1  # the page is the one live.js ran on
    page.evaluate("""() => { window.pushes = [];
        document.addEventListener("live:note", (event) => window.pushes.push(event.detail.message)); }""")
    with Client(server.url) as script:
        script.login("petra", "a long password")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the page's socket connects on its own time: push until it hears
            script.send_request("push.me", {"event": "note", "data": {"message": "Hello from Python"}})
            time.sleep(0.5)
            if page.evaluate("window.pushes.length"):
                break
    assert "Hello from Python" in page.evaluate("window.pushes")
    # live.js never had the panel: the renamed status still says what the template says.
    assert page.locator("#renamed-live-status").text_content() == "Connecting…"


def test_every_page_names_its_favicon_and_it_is_served(live_server, new_page):
    server = live_server(migrate=True)
    missing = []
    page = new_page()
    page.on("response", lambda response: response.status == 404 and missing.append(response.url))
    page.goto(server.url + "/")
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert icon, "the layout links no favicon"
    assert requests.get(server.url + icon, timeout=10).status_code == 200
    page.goto(server.url + "/login")
    assert missing == []
