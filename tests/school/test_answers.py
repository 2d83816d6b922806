"""The school's answers, right on every path: a new profile's role at once, ids past an INT
column, bodies for what they are, and duplicates named in one shape. Against a real
gunicorn on MariaDB, whose id columns are INT."""

from __future__ import annotations

import pytest

from flask_keel.client import Client
from flask_keel.testing import signed_up

pytestmark = pytest.mark.integration


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
