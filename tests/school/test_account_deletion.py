"""Deleting an account (Controllers/accounts/account.py) takes the school's rows of that user
along, through the school's own cascades (Models/Persistent/school.py: ON DELETE CASCADE
and the profiles' ORM cascade): their teacher and student profiles, the courses they teach
with every enrolment in them, and their own enrolments; nobody else's. On SQLite and on
MariaDB, through a real gunicorn. Here, not in tests/accounts: it goes with the demo."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from flask_keel.client import Client, RequestError
from flask_keel.testing import mariadb_entry, start_live_server
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

PASSWORD = "a long password"


@pytest.fixture(params=["sqlite", "mariadb"])
def server(request, tmp_path):
    extra = {}
    if request.param == "mariadb":
        database = request.getfixturevalue("mariadb_databases")("acctdel")
        extra["DATABASE"] = {"main": mariadb_entry(request.getfixturevalue("mariadb"), database)}
    served = start_live_server(tmp_path, "deletion", migrate=True, root=REPO_ROOT,
                               FLASK={"CONFIG": {"LOGIN_RATE_LIMIT": "1000 per minute"}}, **extra)
    served.rows = row_reader(request.param, tmp_path, extra)
    try:
        yield served
    finally:
        served.stop()


def row_reader(database: str, directory, extra: dict):
    """A function running a SELECT on the server's database, answering its rows."""
    if database == "sqlite":
        def rows(sql: str, *args) -> list[tuple]:
            with sqlite3.connect(directory / "app.sqlite3") as connection:
                return connection.execute(sql.replace("%s", "?"), args).fetchall()
        return rows

    import pymysql

    entry = extra["DATABASE"]["main"]

    def rows(sql: str, *args) -> list[tuple]:
        with pymysql.connect(host=entry["address"], port=int(entry["port"]), user="root", password="",
                             database=entry["database"]) as connection, connection.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
    return rows


def signed_up(server, prefix: str) -> Client:
    name = f"{prefix}{uuid.uuid4().hex[:6]}"
    client = Client(server.url, realtime=False)
    client.signup(name, PASSWORD, f"{name}@school.test")
    return client


def test_deleting_an_account_removes_its_profiles_courses_and_enrolments_only(server):
    goner, colleague, pupil = signed_up(server, "goner"), signed_up(server, "colleague"), signed_up(server, "pupil")
    goner.post("/ws/teachers", {"name": "Goner", "department": "Maths"})
    goner.post("/ws/students", {"name": "Goner", "birth_date": "2000-01-01"})
    taught = goner.post("/ws/courses", {"course_name": "Algebra", "course_code": f"A{uuid.uuid4().hex[:6]}"})["id"]
    colleague.post("/ws/teachers", {"name": "Colleague", "department": "Art"})
    kept = colleague.post("/ws/courses", {"course_name": "Drawing", "course_code": f"D{uuid.uuid4().hex[:6]}"})["id"]
    pupil.post("/ws/students", {"name": "Pupil", "birth_date": "2001-02-03"})
    pupil.post("/ws/enrollments", {"course_id": taught})
    pupil_kept = pupil.post("/ws/enrollments", {"course_id": kept})["id"]
    goner.post("/ws/enrollments", {"course_id": kept})
    gone_id = goner.user["id"]

    assert goner.post("/ws/account/delete", {"password": PASSWORD}) == {"deleted": True}

    assert server.rows("SELECT id FROM users WHERE id = %s", gone_id) == []
    assert server.rows("SELECT user_id FROM teachers WHERE user_id = %s", gone_id) == []
    assert server.rows("SELECT user_id FROM students WHERE user_id = %s", gone_id) == []
    assert server.rows("SELECT id FROM courses WHERE id = %s", taught) == []
    assert server.rows("SELECT id FROM enrollments WHERE course_id = %s", taught) == []  # the pupil's, in it
    assert server.rows("SELECT id FROM enrollments WHERE student_id = %s", gone_id) == []
    # Everyone else's rows stay.
    assert [row[0] for row in server.rows("SELECT id FROM courses")] == [kept]
    assert [row[0] for row in server.rows("SELECT id FROM enrollments")] == [pupil_kept]
    assert server.rows("SELECT user_id FROM teachers") == [(colleague.user["id"],)]
    assert server.rows("SELECT user_id FROM students") == [(pupil.user["id"],)]
    assert pupil.get("/ws/me/courses") and colleague.get("/ws/school/me")["teacher"]

    with pytest.raises(RequestError) as refused:
        Client(server.url, realtime=False).login(goner.user["username"], PASSWORD)
    assert refused.value.status == 401
