"""The dashboard's SQL: at most 3 statements per page view, whatever the user has
(a teacher with courses and enrolments, a student with courses and others open, both),
counted on the app's engine during one GET, on SQLite and on the real MariaDB."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from flask_keel import create_app
from flask_keel.db import db
from flask_keel.db.testing import dispose
from flask_keel.testing import ApiClient, project_config, run_db

pytestmark = pytest.mark.integration

MAX_STATEMENTS = 3
TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def school(request, tmp_path_factory, shipped_project_module):
    """An app with two teachers, their courses, and students enrolled in some of them."""
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"dashboard-{backend}")
    if backend == "mariadb":
        config = project_config(tmp, backend, request.getfixturevalue("mariadb"),
                                request.getfixturevalue("mariadb_databases")("dashq"))
    else:
        config = project_config(tmp, backend)
    app = create_app(config)
    assert run_db(app, "upgrade").exit_code == 0
    users = {name: ApiClient(app.test_client()) for name in ("ada", "bob", "sam", "zoe", "max")}
    for name, client in users.items():
        client.signup(name)
    for name in ("ada", "bob", "max"):
        assert users[name].post("/ws/teachers", json={"name": name.title(), "department": "Maths"}).status_code == 201
    for name in ("sam", "zoe", "max"):
        assert users[name].post("/ws/students", json={"name": name.title(), "birth_date": "2010-04-01"}
                                ).status_code == 201
    courses = {}
    for teacher, code, title in (("ada", "ALG1", "Algebra"), ("ada", "GEO1", "Geometry"), ("bob", "BIO1", "Biology"),
                                 ("max", "ART1", "Art")):
        response = users[teacher].post("/ws/courses", json={"course_name": title, "course_code": code})
        assert response.status_code == 201, response.json
        courses[code] = response.json["id"]
    for student, code in (("sam", "ALG1"), ("zoe", "ALG1"), ("sam", "BIO1"), ("max", "BIO1"), ("zoe", "ART1")):
        assert users[student].post("/ws/enrollments", json={"course_id": courses[code]}).status_code == 201
    yield app, users
    dispose(app)


@contextmanager
def statements(app):
    """The SQL statements the app's engine sends inside the block (transaction control,
    such as the BEGIN the app sends to SQLite, left out: it is not a query)."""
    sent: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.split(None, 1)[0].upper() not in TRANSACTION_CONTROL:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def dashboard(app, client) -> tuple[str, list[str]]:
    with statements(app) as sent:
        response = client.get("/dashboard")
    assert response.status_code == 200
    return response.get_data(as_text=True), sent


def text(html: str, element_id: str) -> str:
    """The text of the element with this id, tags dropped and spaces collapsed."""
    block = re.search(rf'id="{element_id}".*?</(?:table|ul|select)>', html, re.S).group(0)
    return " ".join(re.sub(r"<[^>]+>", " ", block.split(">", 1)[1]).split())


@pytest.mark.parametrize("name", ["ada", "sam", "max"])
def test_the_dashboard_takes_at_most_three_statements(school, name):
    app, users = school
    html, sent = dashboard(app, users[name])
    assert len(sent) <= MAX_STATEMENTS, "\n\n".join(sent)
    assert f"Hello, {name}" in html


def test_a_teacher_sees_each_course_with_its_students(school):
    app, users = school
    html, _ = dashboard(app, users["ada"])
    assert text(html, "teaching") == "Course Code Students Algebra ALG1 Sam, Zoe Geometry GEO1 none yet"
    assert text(html, "import-course") == "Algebra (ALG1) Geometry (GEO1)"
    assert 'id="learning-heading"' not in html and 'id="study-heading"' in html


def test_a_student_sees_their_courses_and_the_open_ones(school):
    app, users = school
    html, _ = dashboard(app, users["sam"])
    assert text(html, "learning") == "Algebra ALG1 with Ada Biology BIO1 with Bob"
    assert text(html, "enroll-course_id") == ("Choose a course… Art (ART1) with Max Geometry (GEO1) with Ada")
    assert 'id="teaching-heading"' not in html and 'id="teach-heading"' in html


def test_a_teacher_who_studies_sees_both(school):
    app, users = school
    html, _ = dashboard(app, users["max"])
    assert text(html, "teaching") == "Course Code Students Art ART1 Zoe"
    assert text(html, "learning") == "Biology BIO1 with Bob"
    assert text(html, "enroll-course_id") == ("Choose a course… Algebra (ALG1) with Ada Art (ART1) with Max "
                                              "Geometry (GEO1) with Ada")
