"""The school's JSON CRUD on SQLite and on the real MariaDB.

Each test runs inside a transaction that is rolled back afterwards: the app's
commits become savepoints, so tests never see each other's rows.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app import create_app
from app.db import db
from Models.Persistent.school import Course, Enrollment, Teacher, User
from tests.integration.school import run_db, school_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def migrated_config(request, tmp_path_factory, shipped_project_module):
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"crud-{backend}")
    if backend == "mariadb":
        mariadb = request.getfixturevalue("mariadb")
        database = request.getfixturevalue("mariadb_databases")("crud")
        config = school_config(tmp, backend, mariadb, database)
    else:
        config = school_config(tmp, backend)
    app = create_app(config)
    result = run_db(app, "upgrade")
    assert result.exit_code == 0, result.output
    app.extensions["app.db"].dispose()
    return backend, config


@pytest.fixture
def app(migrated_config):
    backend, config = migrated_config
    app = create_app(config)
    state = app.extensions["app.db"]
    connection = state.engines["main"].connect()
    transaction = connection.begin()
    state.rebind(main=connection)
    app.backend = backend
    yield app
    transaction.rollback()
    connection.close()
    state.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def make_teacher(client, username="ada", code=None) -> int:
    user_id = client.post("/ws/users", json={"username": username, "password": "correct horse",
                                             "email": f"{username}@school.test"}).json["id"]
    assert client.post("/ws/teachers", json={"user_id": user_id, "name": username.title(),
                                             "department": "Maths"}).status_code == 201
    return user_id


def make_student(client, username="sam") -> int:
    user_id = client.post("/ws/users", json={"username": username, "password": "correct horse",
                                             "email": f"{username}@school.test"}).json["id"]
    assert client.post("/ws/students", json={"user_id": user_id, "name": username.title(),
                                             "birth_date": "2010-04-01"}).status_code == 201
    return user_id


def make_course(client, teacher_id, code, name="Algebra") -> int:
    response = client.post("/ws/courses", json={"course_name": name, "course_code": code, "teacher_id": teacher_id})
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_insert_returns_the_new_id_and_the_row_is_there(app, client):
    teacher = make_teacher(client)
    course_id = make_course(client, teacher, "ALG1")
    assert client.get(f"/ws/courses/{course_id}").json == {
        "id": course_id, "course_name": "Algebra", "course_code": "ALG1", "teacher_id": teacher}


def test_passwords_are_stored_as_salted_hashes(app, client):
    make_teacher(client, "hashy")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "hashy"))
        assert "correct horse" not in user.password_hash
        assert user.password_hash.startswith("scrypt:")
        assert user.check_password("correct horse") and not user.check_password("wrong")


def test_select_filters_with_or_and_honours_the_limit(app, client):
    ada, bob = make_teacher(client, "ada"), make_teacher(client, "bob")
    for index in range(5):
        make_course(client, ada, f"A{index}", name=f"Algebra {index}")
    make_course(client, ada, "GEO", name="Geometry")
    make_course(client, bob, "ALGB", name="Advanced Algebra")

    limited = client.get("/ws/courses", query_string={"teacher_id": ada, "limit": 3}).json
    assert [course["course_code"] for course in limited] == ["A0", "A1", "A2"]
    # q matches the name or the code, within the teacher's courses.
    matched = client.get("/ws/courses", query_string={"teacher_id": bob, "q": "algebra"}).json
    assert [course["course_code"] for course in matched] == ["ALGB"]
    by_code = client.get("/ws/courses", query_string={"q": "GEO"}).json
    assert [course["course_code"] for course in by_code] == ["GEO"]
    # A LIKE wildcard in q is matched literally.
    assert client.get("/ws/courses", query_string={"q": "%"}).json == []


def test_update_with_and_or_conditions_touches_only_matching_rows(app, client):
    ada, bob = make_teacher(client, "ada"), make_teacher(client, "bob")
    make_course(client, ada, "M1", name="Maths one")
    make_course(client, ada, "M2", name="Maths two")
    make_course(client, ada, "P1", name="Physics")
    make_course(client, bob, "M3", name="Maths three")

    response = client.patch("/ws/courses", json={
        "where": {"teacher_id": ada, "course_codes": ["P1"], "name_prefix": "Maths t"},
        "set": {"course_name": "Renamed"}})
    assert response.status_code == 200 and response.json == {"updated": 2}
    names = {course["course_code"]: course["course_name"] for course in client.get("/ws/courses").json}
    assert names == {"M1": "Maths one", "M2": "Renamed", "P1": "Renamed", "M3": "Maths three"}


def test_update_one_and_missing_ones(app, client):
    course_id = make_course(client, make_teacher(client), "OLD")
    response = client.patch(f"/ws/courses/{course_id}", json={"course_code": "NEW"})
    assert response.status_code == 200 and response.json["course_code"] == "NEW"
    assert client.patch("/ws/courses/999999", json={"course_code": "X"}).status_code == 404
    assert client.patch(f"/ws/courses/{course_id}", json={}).status_code == 400


def test_delete_cascades_to_enrollments(app, client):
    teacher, student = make_teacher(client), make_student(client)
    course_id = make_course(client, teacher, "DEL")
    assert client.post("/ws/enrollments", json={"student_id": student, "course_id": course_id}).status_code == 201
    assert count(app, Enrollment) == 1
    assert client.delete(f"/ws/courses/{course_id}").status_code == 204
    assert client.delete(f"/ws/courses/{course_id}").status_code == 404
    assert count(app, Enrollment) == 0


def test_deleting_a_user_cascades_through_teacher_courses_and_enrollments(app, client):
    teacher, student = make_teacher(client, "leaver"), make_student(client)
    course_id = make_course(client, teacher, "GONE")
    client.post("/ws/enrollments", json={"student_id": student, "course_id": course_id})
    with app.app_context():
        db.session.delete(db.session.get(User, teacher))
        db.session.commit()
    assert (count(app, Teacher), count(app, Course), count(app, Enrollment)) == (0, 0, 0)


def test_student_courses_through_enrollments(app, client):
    teacher, student = make_teacher(client), make_student(client)
    first, second = make_course(client, teacher, "C1"), make_course(client, teacher, "C2")
    make_course(client, teacher, "C3")
    for course_id in (second, first):
        client.post("/ws/enrollments", json={"student_id": student, "course_id": course_id})
    assert [course["id"] for course in client.get(f"/ws/students/{student}/courses").json] == [first, second]


def test_duplicate_unique_value_is_409_naming_the_field(app, client):
    make_teacher(client, "dup")
    response = client.post("/ws/users", json={"username": "dup", "password": "another one", "email": "d@x.io"})
    assert response.status_code == 409
    assert response.json["error"] == "duplicate" and response.json["field"] == "username"
    assert count(app, User) == 1


def test_duplicate_enrollment_names_both_fields(app, client):
    teacher, student = make_teacher(client), make_student(client)
    course_id = make_course(client, teacher, "TWICE")
    payload = {"student_id": student, "course_id": course_id}
    assert client.post("/ws/enrollments", json=payload).status_code == 201
    response = client.post("/ws/enrollments", json=payload)
    assert response.status_code == 409 and response.json["field"] == ["student_id", "course_id"]


def test_missing_foreign_key_target_is_409(app, client):
    response = client.post("/ws/courses", json={"course_name": "Orphan", "course_code": "ORPH", "teacher_id": 4242})
    assert response.status_code == 409
    assert response.json["error"] == "missing_reference"
    if app.backend == "mariadb":
        assert response.json["field"] == "teacher_id"
    assert count(app, Course) == 0


@pytest.mark.parametrize(("body", "field", "reason"), [
    ({"course_name": "X", "course_code": "C", "teacher_id": "one"}, "teacher_id", "Expected `int`, got `str`"),
    ({"course_name": "X", "course_code": "C"}, "teacher_id", "is required"),
    ({"course_name": "X", "course_code": "C", "teacher_id": 1, "room": 5}, "room", "is not an accepted field"),
    ({"course_name": "", "course_code": "C", "teacher_id": 1}, "course_name", "length >= 1"),
    ({"course_name": "X", "course_code": "WAY-TOO-LONG", "teacher_id": 1}, "course_code", "length <= 10"),
    ({"course_name": "X", "course_code": "C", "teacher_id": 0}, "teacher_id", ">= 1"),
])
def test_wrong_payload_is_400_naming_the_field(app, client, body, field, reason):
    response = client.post("/ws/courses", json=body)
    assert response.status_code == 400
    assert response.json["field"] == field and reason in response.json["message"]
    assert count(app, Course) == 0


@pytest.mark.parametrize("data", [b"", b"{not json", b"[1, 2]", "\"caf\xe9\"".encode("latin-1")])
def test_body_that_is_not_a_json_object_is_400(client, data):
    response = client.post("/ws/courses", data=data, content_type="application/json")
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_failed_request_writes_nothing_at_all(app, client):
    """A view that writes a user, then a course for a missing teacher: neither stays."""
    from sqlalchemy import insert

    @app.post("/ws/two-writes")
    def two_writes():
        db.session.execute(insert(User).values(username="half", password_hash="x", email="h@x.io"))
        db.session.execute(insert(Course).values(course_name="Half", course_code="HALF", teacher_id=777))
        db.session.commit()
        return {}

    assert client.post("/ws/two-writes").status_code == 409
    assert count(app, User) == 0 and count(app, Course) == 0
