"""Socket payloads get the answer HTTP gives them, on the school's named requests, against a
real gunicorn on MariaDB (INT id columns): a lone surrogate, an id past an INT column and a
duplicate on a two-column key answer the same 4xx on both."""

from __future__ import annotations

import json

import pytest
import requests

from flask_keel.client import Client
from flask_keel.testing.services import mariadb_entry

pytestmark = pytest.mark.integration

INT_COLUMN_MAX = 2**31 - 1
LONE_SURROGATE = "\ud800"


@pytest.fixture
def school(live_server, mariadb, mariadb_databases):
    """The project on MariaDB (INT id columns), one worker."""
    return live_server(migrate=True, DATABASE={"main": mariadb_entry(mariadb, mariadb_databases("sockpay"))})


def signed_up(url: str, name: str) -> Client:
    client = Client(url)
    client.signup(name, "a long password", f"{name}@x.io")
    return client


def over_socket(client: Client, name: str, payload) -> dict:
    return client.sio.call("rpc", {"name": name, "payload": payload}, timeout=5)


def over_http(client: Client, name: str, payload) -> requests.Response:
    # json.dumps escapes the lone surrogate as \ud800, as a browser's JSON.stringify does.
    return client.http.post(f"{client.url}/ws/{name}", data=json.dumps(payload), timeout=10,
                            headers={"X-CSRFToken": client._token(), "Content-Type": "application/json"})


def assert_same_answer(client: Client, name: str, payload, status: int, field: str | None) -> None:
    http = over_http(client, name, payload)
    ack = over_socket(client, name, payload)
    assert http.status_code == status and http.json()["field"] == field, (name, http.text)
    assert ack["ok"] is False and ack["status"] == status, (name, ack)
    assert ack["error"] == http.json()["error"] and ack["field"] == field, (name, ack, http.text)


def test_socket_payloads_get_the_4xx_http_gives(school):
    teacher, student = signed_up(school.url, "tess"), signed_up(school.url, "stan")
    assert teacher.send_request("teachers.create", {"name": "Tess", "department": "Maths"})["teacher"] is True
    assert student.send_request("students.create", {"name": "Stan", "birth_date": "2001-02-03"})["student"] is True
    course = teacher.send_request("courses.create", {"course_name": "Algebra", "course_code": "ALG"})

    # A lone surrogate anywhere in any named request's payload: 400, never a 500.
    for name, payload in [("echo", {"x": LONE_SURROGATE}),
                          ("courses.create", {"course_name": "A" + LONE_SURROGATE, "course_code": "X1"}),
                          ("courses.list", {"q": LONE_SURROGATE}),
                          ("courses.enroll", {"course_id": course["id"], "note": [LONE_SURROGATE]}),
                          ("school.summary", [LONE_SURROGATE])]:
        assert_same_answer(teacher if name == "courses.create" else student, name, payload, 400, None)

    # Ids past MariaDB's INT: the same 400 naming the field; the largest INT is a missing course.
    assert_same_answer(student, "courses.enroll", {"course_id": INT_COLUMN_MAX + 1}, 400, "course_id")
    assert_same_answer(student, "courses.enroll", {"course_id": INT_COLUMN_MAX}, 409, "course_id")
    assert_same_answer(student, "courses.list", {"teacher_id": 2**31}, 400, "teacher_id")

    # A duplicate on the two-column key: `field` a string on both, `fields` the list.
    assert over_socket(student, "courses.enroll", {"course_id": course["id"]})["ok"] is True
    assert_same_answer(student, "courses.enroll", {"course_id": course["id"]}, 409, "student_id,course_id")
    assert over_socket(student, "courses.enroll", {"course_id": course["id"]})["fields"] == ["student_id",
                                                                                            "course_id"]
    log = school.log()
    assert "Traceback" not in log and "UnicodeEncodeError" not in log and "Out of range" not in log
