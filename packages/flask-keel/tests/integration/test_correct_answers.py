"""Correct answers for every client, checked against a real gunicorn: huge numbers,
plain query arguments, honest OPTIONS, the Python client's whole life, usernames
and times that read back as written, and what stays private."""

from __future__ import annotations

import os
import re
import stat
from datetime import datetime

import pytest
import requests
from sqlalchemy import text

from flask_keel import create_app
from flask_keel.client import Client, Conflict
from flask_keel.db import db
from flask_keel.db.testing import dispose
from flask_keel.testing import ApiClient, project_config, run_db, signed_up
from tests.conftest import FIXTURE_PROJECT

pytestmark = pytest.mark.integration

HUGE = "45741147615022807729045504"


@pytest.mark.fixture_project
def test_integers_past_64_bits_are_a_4xx_not_a_500(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    browser = signed_up(server.url, "numbers")
    listed = browser.get(f"{server.url}/ws/notes?owner_id={HUGE}", timeout=10)
    assert listed.status_code == 400 and listed.json()["field"] == "owner_id"
    for note_id in (HUGE, str(2**63), str(2**64)):
        assert browser.get(f"{server.url}/ws/notes/{note_id}", timeout=10).status_code == 404
    assert browser.get(f"{server.url}/ws/notes/{2**63 - 1}", timeout=10).status_code == 404  # the largest id
    named = browser.post(server.url + "/ws/notes.list", json={"owner_id": int(HUGE)}, timeout=10)
    assert named.status_code == 400 and named.json()["field"] == "owner_id"
    assert "Traceback" not in server.log() and "OverflowError" not in server.log()


@pytest.mark.parametrize(("query", "field"), [("owner_id=null", "owner_id"), ("limit=1e1", "limit"),
                                              ("limit=5&limit=6", "limit"), ("limit=5.0", "limit"),
                                              ("limit= 5", "limit"), ("nope=1", "nope")])
@pytest.mark.fixture_project
def test_query_arguments_are_given_once_in_their_plain_form(live_server, query, field):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    browser = signed_up(server.url, "queries")
    response = browser.get(f"{server.url}/ws/notes?{query}", timeout=10)
    assert response.status_code == 400 and response.json()["field"] == field, response.text
    assert browser.get(f"{server.url}/ws/notes?limit=5&q=alg", timeout=10).status_code == 200


@pytest.mark.fixture_project
def test_options_advertise_only_the_methods_that_answer(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    for path, methods in [("/ws/info", {"GET", "HEAD", "OPTIONS"}), ("/ws/ping", {"POST", "OPTIONS"}),
                          ("/ws/notes", {"GET", "HEAD", "POST", "OPTIONS"}),
                          ("/ws/notes/1", {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"})]:
        allowed = requests.options(server.url + path, timeout=10).headers["Allow"]
        assert set(allowed.replace(" ", "").split(",")) == methods, (path, allowed)
    assert requests.get(server.url + "/ws/ping", timeout=10).status_code == 405
    assert requests.post(server.url + "/ws/no.such.request", timeout=10).status_code == 404


@pytest.mark.fixture_project
def test_the_client_logs_out_and_in_again_and_calls_json_endpoints(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    client = Client(server.url)
    client.signup("cycle", "a long password", "c@x.io")
    created = client.post("/ws/notes", {"title": "Loop"})
    assert client.patch(f"/ws/notes/{created['id']}", {"title": "Loops"})["title"] == "Loops"
    with pytest.raises(Conflict) as duplicate:
        client.post("/ws/notes", {"title": "Loops"})
    assert duplicate.value.field == "title"
    assert client.request("GET", "/ws/me")["username"] == "cycle"
    for _ in range(2):
        client.logout()
        assert not client.connected and client.user is None
        client.login("cycle", "a long password")
        assert client.connected and client.send_request("whoami")["username"] == "cycle"
    assert client.delete(f"/ws/notes/{created['id']}") is None
    client.close()


def test_usernames_are_one_whatever_their_case_and_surrounding_spaces(live_server):
    server = live_server(migrate=True)
    Client(server.url).signup("Alice", "a long password", "a@x.io")
    for spelling in ("alice", "ALICE", " alice ", "Alice"):
        client = Client(server.url, realtime=False)
        assert client.login(spelling, "a long password")["username"] == "alice"
        client.close()
    browser = requests.Session()
    token = browser.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    taken = browser.post(server.url + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10,
                         json={"username": "ALICE", "password": "a long password", "email": "b@x.io"})
    assert taken.status_code == 409 and taken.json()["field"] == "username"


def test_created_at_reads_back_with_its_timezone(live_server):
    server = live_server(migrate=True)
    browser = signed_up(server.url, "timely")
    at_signup = browser.get(server.url + "/ws/me", timeout=10).json()["created_at"]
    again = requests.Session()
    token = again.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    logged_in = again.post(server.url + "/ws/login", headers={"X-CSRFToken": token}, timeout=10,
                           json={"username": "timely", "password": "a long password"}).json()
    assert logged_in["user"]["created_at"] == at_signup
    assert datetime.fromisoformat(at_signup).utcoffset().total_seconds() == 0


def test_signed_in_pages_are_never_stored_and_back_after_logout_shows_nothing(live_server):
    server = live_server(migrate=True)
    browser = signed_up(server.url, "private")
    for path in ("/dashboard", "/", "/ws/me"):
        assert browser.get(server.url + path, timeout=10).headers["Cache-Control"] == "private, no-store", path
    visitor = requests.get(server.url + "/ws/info", timeout=10)
    assert "no-store" not in visitor.headers.get("Cache-Control", "")


def test_the_sqlite_database_is_readable_by_its_owner_only(tmp_path, shipped_project):
    app = create_app(project_config(tmp_path, "sqlite"))
    assert run_db(app, "upgrade").exit_code == 0
    ApiClient(app.test_client()).signup("secret")
    for path in tmp_path.glob("school.sqlite3*"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_the_username_migration_folds_existing_rows_and_keeps_every_account(request, tmp_path, shipped_project,
                                                                             backend):
    if backend == "mariadb":
        config = project_config(tmp_path, "mariadb", request.getfixturevalue("mariadb"),
                               request.getfixturevalue("mariadb_databases")("names"))
        # MariaDB's collation never let two of these exist at once.
        spellings, expected = ["ALICE", " Bob ", "carol"], ["alice", "bob", "carol"]
    else:
        config = project_config(tmp_path, "sqlite")
        spellings, expected = ["Alice", "alice", " Bob ", "carol", "ALICE"], ["alice", "alice-2", "bob", "carol",
                                                                            "alice-5"]
    app = create_app(config)
    assert run_db(app, "upgrade", "0001").exit_code == 0
    engine = db.engines_by_name(app)["main"]
    with engine.begin() as connection:
        for name in spellings:
            connection.execute(text("INSERT INTO users (username, password_hash, email, created_at) "
                                    "VALUES (:name, 'x', 'e@x.io', '2026-01-01 00:00:00')"), {"name": name})
    upgraded = run_db(app, "upgrade")
    assert upgraded.exit_code == 0
    with engine.connect() as connection:
        names = connection.execute(text("SELECT id, username FROM users ORDER BY id")).all()
    assert [name for _, name in names] == expected
    if backend == "sqlite":
        assert re.search(r"user 2: 'alice' folds onto an older account's name; renamed 'alice-2'", upgraded.output)
    dispose(app)


@pytest.mark.parametrize("proxies", [0, 1])
def test_forwarded_headers_count_only_behind_trusted_proxies(live_server, proxies):
    server = live_server(SERVER_ENV={"TRUSTED_PROXIES": proxies})
    response = requests.get(server.url + "/healthz", timeout=10, headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "X-Request-ID": f"fwd{proxies}"})
    assert ("Strict-Transport-Security" in response.headers) is (proxies == 1)
    # The access line is written after the response (under gevent, after the turn): on a
    # loaded machine it may land a moment later, so wait for it rather than read at once.
    from flask_keel.testing import wait_until

    lines = wait_until(lambda: [line for line in server.log().splitlines() if f"[fwd{proxies}]" in line], 10)
    assert lines and ("203.0.113.9" in lines[0]) is (proxies == 1), lines
