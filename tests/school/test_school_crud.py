"""The school's JSON CRUD on SQLite and on the real MariaDB.

Each test runs inside a transaction that is rolled back afterwards: the app's
commits become savepoints, so tests never see each other's rows.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from flask_keel import create_app
from flask_keel.db import db
from flask_keel.db.testing import dispose, rolled_back
from flask_keel.testing import ApiClient, project_config, run_db

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def migrated_config(request, tmp_path_factory, shipped_project_module):
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"crud-{backend}")
    if backend == "mariadb":
        mariadb = request.getfixturevalue("mariadb")
        database = request.getfixturevalue("mariadb_databases")("crud")
        config = project_config(tmp, backend, mariadb, database)
    else:
        config = project_config(tmp, backend)
    app = create_app(config)
    result = run_db(app, "upgrade")
    assert result.exit_code == 0, result.output
    dispose(app)
    return backend, config


@pytest.fixture
def app(migrated_config):
    backend, config = migrated_config
    app = create_app(config)
    app.backend = backend
    with rolled_back(app):
        yield app
    dispose(app)


@pytest.fixture
def api(app):
    """A fresh browser-less client, signed up as nobody yet."""
    return lambda: ApiClient(app.test_client())


def model(app, name: str):
    """A model class of the app's own models modules (imported when the app was made)."""
    return db.models_of(app)[name]


def count(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model(app, name)))


def teacher(api, username="ada") -> ApiClient:
    client = api()
    client.signup(username)
    assert client.post("/ws/teachers", json={"name": username.title(), "department": "Maths"}).status_code == 201
    return client


def student(api, username="sam") -> ApiClient:
    client = api()
    client.signup(username)
    assert client.post("/ws/students", json={"name": username.title(), "birth_date": "2010-04-01"}).status_code == 201
    return client


def make_course(client, code, name="Algebra") -> int:
    response = client.post("/ws/courses", json={"course_name": name, "course_code": code})
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_insert_returns_the_new_id_and_the_row_is_there(api):
    ada = teacher(api)
    course_id = make_course(ada, "ALG1")
    me = ada.get("/ws/me").json
    assert ada.get(f"/ws/courses/{course_id}").json == {
        "id": course_id, "course_name": "Algebra", "course_code": "ALG1", "teacher_id": me["id"]}


def test_passwords_are_stored_as_salted_hashes(app, api):
    api().signup("hashy", password="correct horse")
    api().signup("hashy2", password="correct horse")
    User = model(app, "User")
    with app.app_context():
        hashes = db.session.scalars(select(User.password_hash).order_by(User.id)).all()
    assert all(h.startswith("scrypt:") and "correct horse" not in h for h in hashes)
    assert hashes[0] != hashes[1]  # salted: the same password hashes differently


def test_select_filters_with_or_and_honours_the_limit(api):
    ada, bob = teacher(api, "ada"), teacher(api, "bob")
    for index in range(5):
        make_course(ada, f"A{index}", name=f"Algebra {index}")
    make_course(ada, "GEO", name="Geometry")
    make_course(bob, "ALGB", name="Advanced Algebra")
    ada_id, bob_id = ada.get("/ws/me").json["id"], bob.get("/ws/me").json["id"]

    limited = ada.get("/ws/courses", query_string={"teacher_id": ada_id, "limit": 3}).json
    assert [course["course_code"] for course in limited] == ["A0", "A1", "A2"]
    # q matches the name or the code, within the teacher's courses.
    matched = ada.get("/ws/courses", query_string={"teacher_id": bob_id, "q": "algebra"}).json
    assert [course["course_code"] for course in matched] == ["ALGB"]
    by_code = ada.get("/ws/courses", query_string={"q": "GEO"}).json
    assert [course["course_code"] for course in by_code] == ["GEO"]
    # A LIKE wildcard in q is matched literally.
    assert ada.get("/ws/courses", query_string={"q": "%"}).json == []


def test_update_with_and_or_conditions_touches_only_matching_rows(api):
    ada, bob = teacher(api, "ada"), teacher(api, "bob")
    make_course(ada, "M1", name="Maths one")
    make_course(ada, "M2", name="Maths two")
    make_course(ada, "P1", name="Physics")
    make_course(bob, "M3", name="Maths three")

    response = ada.patch("/ws/courses", json={"where": {"course_codes": ["P1", "M3"], "name_prefix": "Maths t"},
                                              "set": {"course_name": "Renamed"}})
    assert response.status_code == 200 and response.json == {"updated": 2}
    names = {course["course_code"]: course["course_name"] for course in ada.get("/ws/courses").json}
    # Bob's M3 has the code and the prefix but is not Ada's: untouched.
    assert names == {"M1": "Maths one", "M2": "Renamed", "P1": "Renamed", "M3": "Maths three"}


def test_update_one_and_missing_or_foreign_ones(api):
    ada, bob = teacher(api, "ada"), teacher(api, "bob")
    course_id = make_course(ada, "OLD")
    response = ada.patch(f"/ws/courses/{course_id}", json={"course_code": "NEW"})
    assert response.status_code == 200 and response.json["course_code"] == "NEW"
    assert ada.patch("/ws/courses/999999", json={"course_code": "X"}).status_code == 404
    assert ada.patch(f"/ws/courses/{course_id}", json={}).status_code == 400
    assert bob.patch(f"/ws/courses/{course_id}", json={"course_code": "BOBS"}).status_code == 404
    assert bob.delete(f"/ws/courses/{course_id}").status_code == 404


def test_delete_cascades_to_enrollments(app, api):
    ada, sam = teacher(api), student(api)
    course_id = make_course(ada, "DEL")
    assert sam.post("/ws/enrollments", json={"course_id": course_id}).status_code == 201
    assert count(app, "Enrollment") == 1
    assert ada.delete(f"/ws/courses/{course_id}").status_code == 204
    assert ada.delete(f"/ws/courses/{course_id}").status_code == 404
    assert count(app, "Enrollment") == 0


def test_deleting_a_user_cascades_through_teacher_courses_and_enrollments(app, api):
    leaver, sam = teacher(api, "leaver"), student(api)
    course_id = make_course(leaver, "GONE")
    sam.post("/ws/enrollments", json={"course_id": course_id})
    User = model(app, "User")
    with app.app_context():
        db.session.delete(db.session.scalar(select(User).where(User.username == "leaver")))
        db.session.commit()
    assert (count(app, "Teacher"), count(app, "Course"), count(app, "Enrollment")) == (0, 0, 0)


def test_my_courses_for_a_student_and_a_teacher(api):
    ada, sam = teacher(api), student(api)
    first, second = make_course(ada, "C1"), make_course(ada, "C2")
    make_course(ada, "C3")
    for course_id in (second, first):
        sam.post("/ws/enrollments", json={"course_id": course_id})
    assert [course["id"] for course in sam.get("/ws/me/courses").json["learning"]] == [first, second]
    assert [course["course_code"] for course in ada.get("/ws/me/courses").json["teaching"]] == ["C1", "C2", "C3"]


def test_only_teachers_create_courses_and_only_students_enrol(api):
    sam = student(api)
    assert sam.post("/ws/courses", json={"course_name": "X", "course_code": "X"}).status_code == 403
    ada = teacher(api)
    course_id = make_course(ada, "T1")
    refused = ada.post("/ws/enrollments", json={"course_id": course_id})
    assert refused.status_code == 403 and "Only students" in refused.json["message"]
    assert ada.post("/ws/teachers", json={"name": "Again", "department": "X"}).status_code == 409


def test_writes_need_a_login(api):
    anonymous = api()
    response = anonymous.post("/ws/courses", json={"course_name": "X", "course_code": "X"})
    assert response.status_code == 401 and response.json["error"] == "not_logged_in"


def test_duplicate_unique_value_is_409_naming_the_field(app, api):
    api().signup("dup")
    response = api().post("/ws/signup", json={"username": "dup", "password": "another one!", "email": "d@x.io"})
    assert response.status_code == 409
    assert response.json["error"] == "duplicate" and response.json["field"] == "username"
    assert count(app, "User") == 1


def test_duplicate_course_code_is_409(api):
    ada, bob = teacher(api, "ada"), teacher(api, "bob")
    make_course(ada, "SAME")
    response = bob.post("/ws/courses", json={"course_name": "Mine", "course_code": "SAME"})
    assert response.status_code == 409 and response.json["field"] == "course_code"


def test_duplicate_enrollment_names_both_fields(api):
    ada, sam = teacher(api), student(api)
    course_id = make_course(ada, "TWICE")
    assert sam.post("/ws/enrollments", json={"course_id": course_id}).status_code == 201
    response = sam.post("/ws/enrollments", json={"course_id": course_id})
    # `field` is a string everywhere (the key's columns joined); `fields` lists them.
    assert response.status_code == 409 and response.json["field"] == "student_id,course_id"
    assert response.json["fields"] == ["student_id", "course_id"]


def test_missing_foreign_key_target_is_409(app, api):
    sam = student(api)
    response = sam.post("/ws/enrollments", json={"course_id": 4242})
    assert response.status_code == 409
    assert response.json["error"] == "missing_reference"
    if app.backend == "mariadb":
        assert response.json["field"] == "course_id"
    assert count(app, "Enrollment") == 0


@pytest.mark.parametrize(("body", "field", "reason"), [
    ({"course_name": "X", "course_code": 7}, "course_code", "Expected `str`, got `int`"),
    ({"course_name": "X"}, "course_code", "is required"),
    ({"course_name": "X", "course_code": "C", "room": 5}, "room", "is not an accepted field"),
    ({"course_name": "", "course_code": "C"}, "course_name", "length >= 1"),
    ({"course_name": "X", "course_code": "WAY-TOO-LONG"}, "course_code", "length <= 10"),
    ({"course_name": "X", "course_code": "no spaces"}, "course_code", "matching regex"),
])
def test_wrong_payload_is_400_naming_the_field(app, api, body, field, reason):
    ada = teacher(api)
    response = ada.post("/ws/courses", json=body)
    assert response.status_code == 400
    assert response.json["field"] == field and reason in response.json["message"]
    assert count(app, "Course") == 0


@pytest.mark.parametrize("data", [b"", b"{not json", b"[1, 2]", "\"caf\xe9\"".encode("latin-1")])
def test_body_that_is_not_a_json_object_is_400(api, data):
    ada = teacher(api)
    response = ada.post("/ws/courses", data=data, content_type="application/json")
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_failed_request_writes_nothing_at_all(app, api):
    """A view that writes a user, then a course for a missing teacher: neither stays."""
    from sqlalchemy import insert

    User, Course = model(app, "User"), model(app, "Course")

    @app.post("/ws/two-writes")
    def two_writes():
        db.session.execute(insert(User).values(username="half", password_hash="x", email="h@x.io"))
        db.session.execute(insert(Course).values(course_name="Half", course_code="HALF", teacher_id=777))
        db.session.commit()
        return {}

    assert api().post("/ws/two-writes").status_code == 409
    assert count(app, "User") == 0 and count(app, "Course") == 0
