"""The school as JSON endpoints (/ws/...) and named requests, each a thin wrapper
over one function of service.py: an operation offered both ways is written once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from flask import Blueprint, jsonify
from sqlalchemy import func

from Controllers.school import service
from flask_keel.auth import current_user, login_required
from flask_keel.cache import cache
from flask_keel.db import db
from flask_keel.payloads import json_body, query_args
from flask_keel.rpc import RpcRequest, named_request
from Models.Forms.school import (
    CourseBulkChange,
    CourseChange,
    CourseIn,
    CourseQuery,
    EnrollmentIn,
    StudentIn,
    TeacherIn,
)
from Models.Persistent.school import Course, Enrollment, Student

api = Blueprint("school_api", __name__, url_prefix="/ws")


def _created(record_id: int):
    return jsonify(id=record_id), 201


# -- profiles ---------------------------------------------------------------------------

@api.post("/teachers")
@login_required
def create_teacher():
    """Become a teacher: your name as students see it, and your department."""
    payload = json_body(TeacherIn)
    service.create_teacher(current_user, payload.name, payload.department)
    return _created(current_user.id)


@named_request(api, "teachers.create")
def create_teacher_request(request: RpcRequest) -> dict[str, Any]:
    """Become a teacher; answers your roles."""
    payload = request.parse(TeacherIn)
    service.create_teacher(request.user, payload.name, payload.department)
    return {"user_id": request.user.id, **service.roles(request.user)}


@api.post("/students")
@login_required
def create_student():
    """Become a student: your name as teachers see it, and your date of birth."""
    payload = json_body(StudentIn)
    service.create_student(current_user, payload.name, payload.birth_date)
    return _created(current_user.id)


@named_request(api, "students.create")
def create_student_request(request: RpcRequest) -> dict[str, Any]:
    """Become a student; answers your roles."""
    payload = request.parse(StudentIn)
    service.create_student(request.user, payload.name, payload.birth_date)
    return {"user_id": request.user.id, **service.roles(request.user)}


@api.get("/school/me")
@login_required
def my_roles():
    """Whether you teach and study here."""
    return jsonify(service.roles(current_user))


# -- courses ----------------------------------------------------------------------------

@api.get("/courses")
@login_required
def list_courses():
    """Courses, filtered by teacher or a search text, at most `limit` of them."""
    return jsonify([course.to_dict() for course in service.find_courses(query_args(CourseQuery))])


@named_request(api, "courses.list")
def list_courses_request(request: RpcRequest) -> list[Course]:
    """Courses, filtered by teacher or a search text (no payload: the first 50)."""
    return service.find_courses(request.parse(CourseQuery) if request.payload else CourseQuery())


@api.post("/courses")
@login_required
def create_course():
    """Add a course you teach (teachers only); answers its id."""
    payload = json_body(CourseIn)
    return _created(service.create_course(current_user, payload.course_name, payload.course_code).id)


@named_request(api, "courses.create")
def create_course_request(request: RpcRequest) -> Course:
    """Add a course you teach (teachers only); answers the course."""
    payload = request.parse(CourseIn)
    return service.create_course(request.user, payload.course_name, payload.course_code)


@api.get("/courses/<int:course_id>")
@login_required
def get_course(course_id: int):
    """One course by its id."""
    return jsonify(db.get_or_404(Course, course_id, description=f"There is no course {course_id}.").to_dict())


@api.get("/catalog/<course_code>")
def catalog_entry(course_code: str):
    """Public: one course by its code (what a course catalog page would show)."""
    return jsonify(service.course_by_code(course_code).to_dict())


@api.patch("/courses/<int:course_id>")
@login_required
def update_course(course_id: int):
    """Rename or recode one of your courses; answers the course."""
    return jsonify(service.update_course(current_user, course_id, json_body(CourseChange)).to_dict())


@api.patch("/courses")
@login_required
def update_courses():
    """Change several of your courses at once (by codes or a name prefix); answers how many."""
    return jsonify(updated=service.update_courses(current_user, json_body(CourseBulkChange)))


@api.delete("/courses/<int:course_id>")
@login_required
def delete_course(course_id: int):
    """Delete one of your courses, with its enrolments."""
    service.delete_course(current_user, course_id)
    return "", 204


@api.get("/me/courses")
@login_required
def my_courses():
    """The courses you teach and those you are enrolled in."""
    courses = service.my_courses(current_user)
    return jsonify({name: [course.to_dict() for course in listed] for name, listed in courses.items()})


# -- enrolments -------------------------------------------------------------------------

@api.post("/enrollments")
@login_required
def enroll():
    """Enrol in a course (students only); its teacher gets an `enrolled` push. Answers the enrolment's id."""
    return _created(service.enroll(current_user, json_body(EnrollmentIn).course_id).id)


@named_request(api, "courses.enroll")
def enroll_request(request: RpcRequest) -> Enrollment:
    """Enrol in a course (students only); answers the enrolment."""
    return service.enroll(request.user, request.parse(EnrollmentIn).course_id)


# -- a summary, to show every JSON-able type a view may return --------------------------

@dataclass
class Summary:
    courses: int
    students: int
    enrolments_per_course: Decimal
    generated_at: datetime
    snapshot: uuid.UUID


def _summary() -> dict[str, Any]:
    courses = db.session.scalar(db.select(func.count()).select_from(Course))
    enrolments = db.session.scalar(db.select(func.count()).select_from(Enrollment))
    per_course = (Decimal(enrolments) / courses).quantize(Decimal("0.01")) if courses else Decimal("0.00")
    summary = Summary(courses, db.session.scalar(db.select(func.count()).select_from(Student)), per_course,
                      datetime.now(UTC), uuid.uuid4())
    return msgspec.to_builtins(summary)


@named_request(api, "school.summary")
def summary(request: RpcRequest) -> dict[str, Any]:
    """Counts for a dashboard, cached for 10 s (a cache outage only means recounting)."""
    return cache.get_or_set("school:summary", _summary, timeout=10)
