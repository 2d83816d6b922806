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


# -- the school's answers (issue 28): against a real gunicorn on MariaDB, whose id columns are INT --

@pytest.fixture
def school_on_mariadb(live_server, mariadb, mariadb_databases):
    from flask_keel.testing.services import mariadb_entry

    return live_server(migrate=True, DATABASE={"main": mariadb_entry(mariadb, mariadb_databases("answers"))})


def test_creating_a_profile_answers_the_new_role_at_once(school_on_mariadb):
    url = school_on_mariadb.url
    for transport in ("socket", "http"):
        client = Client(url, realtime=transport == "socket")
        client.signup(f"roles{transport}", "a long password", f"roles{transport}@x.io")
        teacher = client.send_request("teachers.create", {"name": "Tess", "department": "Maths"})
        assert teacher["teacher"] is True and teacher["student"] is False, (transport, teacher)
        both = client.send_request("students.create", {"name": "Tess", "birth_date": "1990-05-06"})
        assert both["teacher"] is True and both["student"] is True, (transport, both)
        assert client.get("/ws/school/me") == {"teacher": True, "student": True}
        client.close()


def test_ids_past_an_int_column_answer_alike_on_every_path(school_on_mariadb):
    url = school_on_mariadb.url
    ada = signed_up(url, "ada")
    assert ada.post(url + "/ws/teachers", json={"name": "Ada", "department": "CS"}, timeout=10).status_code == 201
    assert ada.post(url + "/ws/students", json={"name": "Ada", "birth_date": "2000-01-01"},
                    timeout=10).status_code == 201
    for path in ("/ws/enrollments", "/ws/courses.enroll"):
        too_big = ada.post(url + path, json={"course_id": 2**31}, timeout=10)
        assert too_big.status_code == 400 and too_big.json()["field"] == "course_id", (path, too_big.text)
        largest = ada.post(url + path, json={"course_id": 2**31 - 1}, timeout=10)
        assert largest.status_code == 409 and largest.json()["field"] == "course_id", (path, largest.text)
    listed = ada.get(f"{url}/ws/courses?teacher_id={2**31}", timeout=10)
    assert listed.status_code == 400 and listed.json()["field"] == "teacher_id"
    for course_id in (2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64):
        for method in ("GET", "PATCH", "DELETE"):
            answer = ada.request(method, f"{url}/ws/courses/{course_id}", json={"course_name": "x"}, timeout=10)
            assert answer.status_code == 404, (method, course_id, answer.status_code, answer.text)
    assert "Traceback" not in school_on_mariadb.log()


def test_bodies_are_answered_for_what_they_are(school_on_mariadb):
    url = school_on_mariadb.url
    ada = signed_up(url, "ada")
    assert ada.post(url + "/ws/teachers", json={"name": "Ada", "department": "CS"}, timeout=10).status_code == 201

    def chunked(size: int):
        yield b'{"course_name": "'
        for _ in range(size // 1000):
            yield b"x" * 1000
        yield b'", "course_code": "BIG"}'

    big = ada.post(url + "/ws/courses", data=chunked(1_000_000), timeout=30,
                   headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["error"] == "request_entity_too_large", big.text
    small = ada.post(url + "/ws/courses", data=iter([b'{"course_name": "Chunked", ', b'"course_code": "CH"}']),
                     timeout=10, headers={"Content-Type": "application/json"})
    assert small.status_code == 201, small.text  # a chunked body within the limit is read whole

    plain = ada.post(url + "/ws/courses", data='{"course_name": "Plain", "course_code": "PL"}', timeout=10,
                     headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and plain.json()["error"] == "unsupported_media_type", plain.text
    named = ada.post(url + "/ws/courses.create", data='{"course_name": "Plain", "course_code": "PL"}',
                     timeout=10, headers={"Content-Type": "text/plain"})
    assert named.status_code == 415, named.text
    assert ada.get(f"{url}/ws/courses?q=Plain", timeout=10).json() == []

    missing = ada.patch(f"{url}/ws/courses/999", json={"course_name": "x"}, timeout=10)
    assert missing.status_code == 404 and missing.json()["message"] == "You have no course 999."
    assert ada.delete(f"{url}/ws/courses/999", timeout=10).json()["message"] == "You have no course 999."
    assert ada.get(f"{url}/ws/courses/999", timeout=10).json()["message"] == "There is no course 999."
    assert ada.get(f"{url}/ws/nothing/here", timeout=10).json()["message"] == "No page or endpoint at /ws/nothing/here."


def test_a_duplicate_names_its_fields_in_one_shape(school_on_mariadb):
    url = school_on_mariadb.url
    ada = signed_up(url, "ada")
    ada.post(url + "/ws/teachers", json={"name": "Ada", "department": "CS"}, timeout=10)
    ada.post(url + "/ws/students", json={"name": "Ada", "birth_date": "2000-01-01"}, timeout=10)
    course = {"course_name": "Sets", "course_code": "SET"}
    course_id = ada.post(url + "/ws/courses", json=course, timeout=10).json()["id"]
    one_column = ada.post(url + "/ws/courses", json=course, timeout=10).json()
    assert one_column["field"] == "course_code" and one_column["fields"] == ["course_code"]
    assert ada.post(url + "/ws/enrollments", json={"course_id": course_id}, timeout=10).status_code == 201
    two_columns = ada.post(url + "/ws/enrollments", json={"course_id": course_id}, timeout=10).json()
    assert two_columns["field"] == "student_id,course_id" and two_columns["fields"] == ["student_id", "course_id"]
