"""The account page (Controllers/accounts/account.py) through a real gunicorn with two
workers, sessions and the socket message queue on Redis: the sessions listed, sign out
everywhere, change password, delete account, each as a page, a JSON endpoint and a named
request; and what an attacker would try against them."""

from __future__ import annotations

import re
import sqlite3
import time
import uuid

import pytest
import requests

from flask_keel.client import Client, RequestError
from flask_keel.testing import mariadb_entry, redis_entry, start_live_server, wait_until
from flask_keel.testing.workers import holders, on_both_workers, wait_for_workers
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

PASSWORD = "a long password"
NEW_PASSWORD = "another long password"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


def sections(redis_server, processes: int = 2, **extra) -> dict:
    return dict(
        SERVER_ENV={"PROCESSES": processes, "SESSION": "redis", "APP_NAME": f"acct{uuid.uuid4().hex[:8]}",
                    "CLIENT_CONNECTIONS": 0},
        SERVICES={"redis": redis_entry(redis_server)},
        FLASK={"CONFIG": {"SIGNUP_RATE_LIMIT": "1000 per minute", "LOGIN_RATE_LIMIT": "1000 per minute"}},
        **extra)


@pytest.fixture(scope="module")
def server(redis_server, tmp_path_factory):
    served = start_live_server(tmp_path_factory.mktemp("account"), "account", migrate=True, root=REPO_ROOT,
                               **sections(redis_server))
    try:
        wait_for_workers(served, 2)
        yield served
    finally:
        served.stop()


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def form_tokens(html: str) -> dict[str, str]:
    """The CSRF token of each form of the account page, by its prefix."""
    return dict(re.findall(r'name="(\w+)-csrf_token" type="hidden" value="([^"]+)"', html))


def browser_login(server, username: str, password: str = PASSWORD, agent: str = FIREFOX) -> requests.Session:
    """A browser-like client (cookie jar, form posts) signed in through the login page."""
    browser = requests.Session()
    browser.headers["User-Agent"] = agent
    page = browser.get(server.url + "/login", timeout=10)
    answer = browser.post(server.url + "/login", allow_redirects=False, timeout=10,
                          data={"csrf_token": form_token(page.text), "username": username, "password": password})
    assert answer.status_code == 302, answer.text
    return browser


def post_form(server, browser: requests.Session, action: str, prefix: str, **fields) -> requests.Response:
    tokens = form_tokens(browser.get(server.url + "/account", timeout=10).text)
    data = {f"{prefix}-csrf_token": tokens[prefix], **{f"{prefix}-{name}": value for name, value in fields.items()}}
    return browser.post(server.url + action, data=data, allow_redirects=False, timeout=10)


def signed_up(server, prefix: str) -> tuple[str, Client]:
    name = f"{prefix}{uuid.uuid4().hex[:6]}"
    client = Client(server.url)
    client.signup(name, PASSWORD, f"{name}@account.test")
    return name, client


def signed_in(server, client) -> bool:
    http = client.http if isinstance(client, Client) else client
    return http.get(server.url + "/ws/me", timeout=10).status_code == 200


def close_all(clients) -> None:
    for client in clients:
        if isinstance(client, Client):
            client.close()


# -- the sessions listed -----------------------------------------------------------------------

def test_the_account_page_lists_every_session_and_marks_this_device(server):
    name, first = signed_up(server, "lister")
    laptop = browser_login(server, name)
    phone = browser_login(server, name, agent=IPHONE)
    try:
        html = laptop.get(server.url + "/account", timeout=10).text
        rows = re.findall(r"<tr(?: class=\"current-session\")? data-session=.*?</tr>", html, re.S)
        assert len(rows) == 3
        [mine] = [row for row in rows if "current-session" in row]
        assert "Firefox on Linux" in mine and "(this device)" in mine and "127.0.0.1" in mine
        assert any("Safari on iOS" in row and "(this device)" not in row for row in rows)
        for client in (first, laptop, phone):  # no session id is ever shown, not even one's own
            assert (client.http if isinstance(client, Client) else client).cookies["session"] not in html

        listed = phone.get(server.url + "/ws/account/sessions", timeout=10).json()["sessions"]
        assert [active["current"] for active in listed] == [True, False, False]  # this device first
        assert listed[0]["client"] == "Safari on iOS"
        assert all(active["created"] <= active["last_seen"] <= time.time() + 1 for active in listed)
        # The named request, over the socket: the socket's own login is "this device".
        over_socket = first.send_request("account.sessions")["sessions"]
        assert [active["current"] for active in over_socket] == [True, False, False]
        assert {active["id"] for active in over_socket} == {active["id"] for active in listed}
    finally:
        close_all([first])


# -- sign out everywhere ---------------------------------------------------------------------

def test_sign_out_everywhere_ends_every_other_session_and_socket_on_both_workers(server):
    name, other_login = signed_up(server, "leaver")
    other_sockets = on_both_workers(server, other_login)
    this = browser_login(server, name)
    this_socket = Client(server.url)
    this_socket.login(name, PASSWORD)  # a third login, which the named request below keeps
    _, bystander = signed_up(server, "stayer")
    try:
        answer = post_form(server, this, "/account/sign-out-everywhere", "everywhere")
        assert answer.status_code == 302 and answer.headers["Location"] == "/account"
        assert "Signed out of 2 other sessions." in this.get(server.url + "/account", timeout=10).text
        assert wait_until(lambda: not any(client.connected for client in other_sockets), timeout=10), \
            holders(server, [client for client in other_sockets if client.connected])
        assert not signed_in(server, other_login) and not signed_in(server, this_socket)
        assert signed_in(server, this)  # this device stays
        assert bystander.connected and bystander.send_request("whoami")["username"].startswith("stayer")
        assert signed_in(server, bystander)
    finally:
        close_all([*other_sockets, this_socket, bystander])


def test_sign_out_everywhere_as_a_named_request_keeps_the_sockets_own_login(server):
    name, this = signed_up(server, "keeper")
    _, other = signed_up(server, "otheruser")
    second = Client(server.url)
    second.login(name, PASSWORD)
    try:
        assert this.send_request("account.sign_out_everywhere") == {"ended": 1}  # over the socket
        assert wait_until(lambda: not second.connected, timeout=10)
        assert this.connected and this.send_request("whoami")["username"] == name
        assert signed_in(server, this) and not signed_in(server, second)
        assert signed_in(server, other)
    finally:
        close_all([this, other, second])


# -- change password ----------------------------------------------------------------------------

def test_change_password_ends_the_other_sessions_and_sockets_and_renews_this_one(server):
    name, other_login = signed_up(server, "changer")
    other_sockets = on_both_workers(server, other_login)
    this = Client(server.url)
    this.login(name, PASSWORD)
    old_cookie = this.http.cookies["session"]
    try:
        answer = this.post("/ws/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
        assert answer["ended"] == 1
        assert wait_until(lambda: not any(client.connected for client in other_sockets), timeout=10), \
            holders(server, [client for client in other_sockets if client.connected])
        assert not signed_in(server, other_login)
        # This session has a new id: the client signs on under it, the old id names nothing.
        assert this.http.cookies["session"] != old_cookie and signed_in(server, this)
        stale = requests.get(server.url + "/ws/me", cookies={"session": old_cookie}, timeout=10)
        assert stale.status_code == 401

        with pytest.raises(RequestError) as refused:
            Client(server.url, realtime=False).login(name, PASSWORD)
        assert refused.value.status == 401
        assert Client(server.url, realtime=False).login(name, NEW_PASSWORD)["username"] == name
    finally:
        close_all([*other_sockets, this])


def test_change_password_page_and_named_request(server):
    name, over_socket = signed_up(server, "pager")
    browser = browser_login(server, name)
    try:
        wrong = post_form(server, browser, "/account/password", "password", current_password="not it",
                          new_password=NEW_PASSWORD, confirm=NEW_PASSWORD)
        assert wrong.status_code == 400
        assert re.search(r'id="password-current_password-errors">\s*<li>The password is wrong.</li>', wrong.text)
        done = post_form(server, browser, "/account/password", "password", current_password=PASSWORD,
                         new_password=NEW_PASSWORD, confirm=NEW_PASSWORD)
        assert done.status_code == 302 and done.headers["Location"] == "/account"
        assert "Your password is changed" in browser.get(server.url + "/account", timeout=10).text
        assert wait_until(lambda: not over_socket.connected, timeout=10)  # the other login's socket ended

        again = Client(server.url)
        again.login(name, NEW_PASSWORD)
        # Over the socket the session keeps its id (the client could not learn a new cookie).
        assert again.send_request("account.change_password",
                                  {"current_password": NEW_PASSWORD, "new_password": PASSWORD}) == {"ended": 1}
        assert again.connected and signed_in(server, again) and not signed_in(server, browser)
        again.close()
    finally:
        close_all([over_socket])


# -- hostile ------------------------------------------------------------------------------------

def test_a_wrong_current_password_is_refused_with_the_reason_on_every_path(server):
    name, client = signed_up(server, "wrong")
    try:
        http = client.http.post(server.url + "/ws/account/password", headers={"X-CSRFToken": client._csrf_token},
                                json={"current_password": "guess", "new_password": NEW_PASSWORD}, timeout=10)
        assert http.status_code == 403
        assert http.json()["error"] == "wrong_password" and http.json()["message"] == "The password is wrong."
        for request_name, payload in (("account.change_password", {"current_password": "guess",
                                                                   "new_password": NEW_PASSWORD}),
                                      ("account.delete", {"password": "guess"})):
            with pytest.raises(RequestError) as refused:
                client.send_request(request_name, payload)
            assert refused.value.status == 403 and refused.value.code == "wrong_password"
        short = client.http.post(server.url + "/ws/account/password", headers={"X-CSRFToken": client._csrf_token},
                                 json={"current_password": PASSWORD, "new_password": "short"}, timeout=10)
        assert short.status_code == 400 and short.json()["field"] == "new_password"
        assert Client(server.url, realtime=False).login(name, PASSWORD)  # nothing changed
    finally:
        close_all([client])


def test_csrf_is_required_by_every_form_and_endpoint(server):
    name, client = signed_up(server, "csrf")
    browser = browser_login(server, name)
    try:
        for path, data in (("/account/sign-out-everywhere", {}),
                           ("/account/password", {"password-current_password": PASSWORD,
                                                  "password-new_password": NEW_PASSWORD,
                                                  "password-confirm": NEW_PASSWORD}),
                           ("/account/delete", {"delete-password": PASSWORD})):
            answer = browser.post(server.url + path, data=data, allow_redirects=False, timeout=10)
            assert answer.status_code == 400 and "The CSRF token is missing." in answer.text, path
        for path in ("/ws/account/sign-out-everywhere", "/ws/account/password", "/ws/account/delete",
                     "/ws/account.sign_out_everywhere", "/ws/account.delete"):
            answer = client.http.post(server.url + path, json={"password": PASSWORD}, timeout=10)
            assert answer.status_code == 400 and answer.json()["error"] == "csrf_failed", path
        assert signed_in(server, client) and signed_in(server, browser)
        assert Client(server.url, realtime=False).login(name, PASSWORD)
    finally:
        close_all([client])


def test_a_signed_out_session_cannot_use_the_forms(server):
    name, this = signed_up(server, "stale")
    stolen = browser_login(server, name)
    tokens = form_tokens(stolen.get(server.url + "/account", timeout=10).text)  # the page, open in a tab
    try:
        assert this.post("/ws/account/sign-out-everywhere") == {"ended": 1}
        for action, prefix, fields in (("/account/password", "password",
                                        {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                         "confirm": NEW_PASSWORD}),
                                       ("/account/delete", "delete", {"password": PASSWORD}),
                                       ("/account/sign-out-everywhere", "everywhere", {})):
            data = {f"{prefix}-csrf_token": tokens[prefix], **{f"{prefix}-{k}": v for k, v in fields.items()}}
            answer = stolen.post(server.url + action, data=data, allow_redirects=False, timeout=10)
            assert answer.status_code in (302, 400), (action, answer.status_code)
            assert answer.status_code == 400 or answer.headers["Location"].startswith("/login")
        assert stolen.get(server.url + "/account", allow_redirects=False, timeout=10).status_code == 302
        assert signed_in(server, this)
        assert Client(server.url, realtime=False).login(name, PASSWORD)  # the password is unchanged
    finally:
        close_all([this])


def test_one_user_cannot_end_another_users_sessions(server):
    victim_name, victim = signed_up(server, "victim")
    _, attacker = signed_up(server, "attacker")
    try:
        # Nothing names whose sessions end: a user id sent along is refused, not ignored.
        smuggled = attacker.http.post(server.url + "/ws/account/sign-out-everywhere", timeout=10,
                                      headers={"X-CSRFToken": attacker._csrf_token},
                                      json={"user_id": victim.user["id"]})
        assert smuggled.status_code == 400 and smuggled.json()["error"] == "invalid_payload"
        with pytest.raises(RequestError) as refused:
            attacker.send_request("account.sign_out_everywhere", {"user_id": victim.user["id"]})
        assert refused.value.status == 400
        assert attacker.post("/ws/account/sign-out-everywhere") == {"ended": 0}
        # Deleting one's own account ends one's own sessions only.
        assert attacker.post("/ws/account/delete", {"password": PASSWORD}) == {"deleted": True}
        assert victim.connected and signed_in(server, victim)
        assert victim.send_request("whoami")["username"] == victim_name
    finally:
        close_all([victim, attacker])


# -- delete account -------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "mariadb"])
def deleting_server(request, redis_server, tmp_path):
    directory = tmp_path / "delete"
    directory.mkdir()
    extra = {}
    if request.param == "mariadb":
        database = request.getfixturevalue("mariadb_databases")("acct")
        extra["DATABASE"] = {"main": mariadb_entry(request.getfixturevalue("mariadb"), database)}
    served = start_live_server(directory, "delete", migrate=True, root=REPO_ROOT,
                               **sections(redis_server, processes=1, **extra))
    served.database = request.param
    try:
        yield served
    finally:
        served.stop()


def users_named(server, name: str) -> int:
    if server.database == "sqlite":
        with sqlite3.connect(server.config.parent / "app.sqlite3") as connection:
            return connection.execute("SELECT COUNT(*) FROM users WHERE username = ?", (name,)).fetchone()[0]
    import pymysql
    import yaml

    entry = yaml.safe_load(server.config.read_text())["DATABASE"]["main"]
    with pymysql.connect(host=entry["address"], port=int(entry["port"]), user=entry["user"],
                         password=entry.get("password") or "", database=entry["database"]) as connection, \
            connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM users WHERE username = %s", (name,))
        return cursor.fetchone()[0]


def test_delete_account_removes_the_user_and_every_login_then_login_fails(deleting_server):
    server = deleting_server
    name, other_login = signed_up(server, "goner")
    browser = browser_login(server, name)
    _, bystander = signed_up(server, "bystander")
    try:
        wrong = post_form(server, browser, "/account/delete", "delete", password="not it")
        assert wrong.status_code == 400 and "The password is wrong." in wrong.text
        assert users_named(server, name) == 1

        done = post_form(server, browser, "/account/delete", "delete", password=PASSWORD)
        assert done.status_code == 302 and done.headers["Location"] == "/"
        assert "Your account is deleted." in browser.get(server.url + "/", timeout=10).text
        assert users_named(server, name) == 0
        assert wait_until(lambda: not other_login.connected, timeout=10)
        assert not signed_in(server, other_login) and not signed_in(server, browser)
        with pytest.raises(RequestError) as refused:
            Client(server.url, realtime=False).login(name, PASSWORD)
        assert refused.value.status == 401
        assert bystander.connected and signed_in(server, bystander)
    finally:
        close_all([other_login, bystander])


def test_guessing_the_current_password_is_rate_limited_with_the_logins(tmp_path, shipped_project):
    """A stolen session is no way to guess the password without limit: the checks count
    against LOGIN_RATE_LIMIT, per client address, on every path."""
    from flask_keel import create_app
    from flask_keel.testing import ApiClient, project_config, run_db

    app = create_app(project_config(tmp_path, "sqlite", FLASK={"CONFIG": {"LOGIN_RATE_LIMIT": "4 per minute"}}))
    assert run_db(app, "upgrade").exit_code == 0
    api = ApiClient(app.test_client())
    api.signup("guessed")  # not a login: nothing counted yet
    statuses = [api.post("/ws/account/password", json={"current_password": f"guess {n}",
                                                        "new_password": NEW_PASSWORD}).status_code
                for n in range(2)]
    statuses.append(api.post("/ws/account.delete", json={"password": "guess"}).status_code)
    statuses.append(api.post("/ws/account/delete", json={"password": "guess"}).status_code)
    refused = api.post("/ws/account/password", json={"current_password": "correct horse battery",
                                                     "new_password": NEW_PASSWORD})
    assert statuses == [403, 403, 403, 403]
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert refused.json["error"] == "too_many_requests"
