"""A visitor who forgot their password gets back in, in a real browser (Chromium): the
link comes out of the mail a real SMTP server received."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from flask_keel.testing import free_port, links_in
from flask_keel.testing.browser import sign_up

pytestmark = pytest.mark.integration


def test_a_visitor_resets_a_forgotten_password_from_the_mailed_link(live_server, mail_catcher, new_page):
    port = free_port()
    server = live_server(migrate=True, port=port, SERVER_ENV={"PUBLIC_URL": f"http://127.0.0.1:{port}"},
                         SERVICES={"mail": mail_catcher.settings()})
    page = new_page()
    sign_up(page, server.url, "rosa")
    page.get_by_role("button", name="Log out").click()

    page.get_by_role("link", name="Log in", exact=True).click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("rosa@example.test")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status").filter(has_text="on its way")).to_be_visible()

    message = mail_catcher.wait_for("rosa@example.test", subject="Reset your password")[0]
    link = next(link for link in links_in(message) if "/password/reset/" in link)
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("a fresh new password")
    page.get_by_label("Repeat the new password").fill("a fresh new password")
    page.get_by_role("button", name="Save the new password").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("Your password is changed")).to_be_visible()

    page.get_by_label("Username").fill("rosa")
    page.get_by_label("Password").fill("a fresh new password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Hello, rosa")).to_be_visible()

    page.goto(link)  # the link worked once
    expect(page.get_by_text("has been used already")).to_be_visible()
