"""A visitor's path through the app's own pages (no demo), in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from flask_keel.client import Client
from flask_keel.testing.browser import sign_up

pytestmark = pytest.mark.integration


def test_the_dashboard_shows_a_push_live_and_back_after_logout_shows_nothing(live_server, new_page):
    server = live_server(migrate=True)
    page = new_page()
    sign_up(page, server.url, "paula")
    expect(page.locator("#live-status")).to_have_text(re.compile("Connected"))
    # Another login of the same user (a script, a phone) pushes to all of her sockets.
    with Client(server.url) as script:
        script.login("paula", "a long password")
        script.send_request("push.me", {"event": "note", "data": {"message": "Hello from Python"}})
    expect(page.locator("#live-events li")).to_have_count(1)
    expect(page.locator("#live-events")).to_contain_text("Hello from Python")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.go_back()  # the dashboard was no-store: the browser asks again, and gets the login page
    expect(page).to_have_url(re.compile(r"/login\?next=/dashboard$"))
    expect(page.get_by_role("heading", name="Hello, paula")).to_have_count(0)


def test_forms_work_with_the_keyboard_alone(live_server, new_page):
    server = live_server(migrate=True)
    page = new_page()
    page.goto(server.url + "/login")
    page.get_by_label("Username").focus()
    page.keyboard.type("nobody")
    page.keyboard.press("Tab")
    page.keyboard.type("wrong password")
    page.keyboard.press("Enter")
    expect(page.locator("#password-errors")).to_have_text("Wrong username or password.")


def test_missing_page_and_every_input_is_labelled(live_server, new_page):
    server = live_server(migrate=True)
    page = new_page()
    response = page.goto(server.url + "/no/such/page")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.goto(server.url + "/signup")
    for field in page.locator("input:not([type=hidden]), select").all():
        field_id = field.get_attribute("id")
        assert page.locator(f'label[for="{field_id}"]').count() == 1, field_id
