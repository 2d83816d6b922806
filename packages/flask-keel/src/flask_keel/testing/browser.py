"""What a visitor does in a real browser, for the Playwright tests of a project."""

from __future__ import annotations

__all__ = ["sign_up"]


def sign_up(page, url: str, username: str, password: str = "a long password") -> None:  # noqa: S107 - a test account
    """Sign up as `username` through the pages, as a visitor does, and land on the dashboard."""
    from playwright.sync_api import expect

    page.goto(url + "/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.test")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(url + "/dashboard")
    expect(page.get_by_role("heading", name=f"Hello, {username}")).to_be_visible()
