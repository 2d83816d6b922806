"""The API docs page (/api/docs): Swagger UI vendored from its pinned npm package
(scripts/vendor-swagger-ui), shown in a real browser under the app's CSP with the
app's own OpenAPI document, and linking the AsyncAPI one."""

from __future__ import annotations

import hashlib
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import REPO_ROOT

VENDOR = REPO_ROOT / "static" / "vendor" / "swagger-ui"


def test_the_vendored_files_are_the_pinned_release_unchanged():
    script = (REPO_ROOT / "scripts" / "vendor-swagger-ui").read_text()
    version = re.search(r"^VERSION=(\S+)$", script, re.M).group(1)
    package, integrity = (VENDOR / "VERSION").read_text().split()
    assert package == f"swagger-ui-dist@{version}" and integrity.startswith("sha512-")
    sums = [line.split() for line in (VENDOR / "SHA256SUMS").read_text().splitlines()]
    assert {name for _, name in sums} == {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"}
    for digest, name in sums:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.integration
def test_the_docs_page_shows_the_api_under_the_csp(live_server, new_page):
    server = live_server()
    page = new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            or message.type == "error" else None)
    missing: list[str] = []
    page.on("response", lambda answer: missing.append(answer.url) if answer.status >= 400 else None)
    response = page.goto(server.url + "/api/docs")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Swagger UI rendered the document: an operation of the accounts, which every project keeps.
    expect(page.locator(".opblock-summary-path[data-path='/ws/login']")).to_be_visible()
    expect(page.locator("#asyncapi-link")).to_have_attribute("href", "/ws/asyncapi.json")
    assert page.evaluate("fetch('/ws/asyncapi.json').then(r => r.json()).then(d => d.asyncapi)") == "3.0.0"
    assert missing == [] and refused == []
