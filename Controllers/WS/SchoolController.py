"""JSON CRUD for the school, in SQLAlchemy 2.0 style, for the signed-in user.

Each view shows one kind of call: insert returning the new id, select with
filters and a limit, update and delete with a where of and/or conditions.
Ownership is part of every where: a teacher changes only their own courses,
a student enrols only themselves; no view trusts a user id sent by the client.

Constraint errors (a duplicate course code, an enrolment in a course that does
not exist) need no handling here: the framework rolls the session back and
answers 409 naming the field, so a request writes everything or nothing.
"""

from __future__ import annotations

from flask import abort, jsonify
from sqlalchemy import delete, or_, select, update

from app.auth import current_user, login_required
from app.db import db
from app.payloads import json_body, query_args
from Controllers import school
from Models.Forms.school import (
    CourseBulkChange,
    CourseChange,
    CourseIn,
    CourseQuery,
    EnrollmentIn,
    StudentIn,
    TeacherIn,
)
from Models.Persistent.school import Course


def _created(record_id: int):
    return jsonify(id=record_id), 201


def _teacher_id() -> int:
    return school.require_teacher(current_user)


@login_required
def create_teacher():
    payload = json_body(TeacherIn)
    school.create_teacher(current_user, payload.name, payload.department)
    return _created(current_user.id)


@login_required
def create_student():
    payload = json_body(StudentIn)
    school.create_student(current_user, payload.name, payload.birth_date)
    return _created(current_user.id)


@login_required
def create_course():
    payload = json_body(CourseIn)
    return _created(school.create_course(current_user, payload.course_name, payload.course_code))


@login_required
def list_courses():
    return jsonify([course.to_dict() for course in school.find_courses(query_args(CourseQuery))])


def catalog_entry(course_code: str):
    """Public: one course by its code (what a course catalog page would show)."""
    course = db.session.scalar(select(Course).where(Course.course_code == course_code))
    if course is None:
        abort(404, f"There is no course {course_code}.")
    return jsonify(course.to_dict())


@login_required
def get_course(course_id: int):
    course = db.session.get(Course, course_id) or abort(404, f"There is no course {course_id}.")
    return jsonify(course.to_dict())


def _changes(change: CourseChange) -> dict[str, str]:
    values = {key: value for key, value in (("course_name", change.course_name),
                                            ("course_code", change.course_code)) if value is not None}
    if not values:
        abort(400, "Nothing to change: give course_name or course_code.")
    return values


def _own_course(course_id: int):
    return (Course.id == course_id) & (Course.teacher_id == _teacher_id())


@login_required
def update_course(course_id: int):
    values = _changes(json_body(CourseChange))
    updated = db.session.execute(update(Course).where(_own_course(course_id)).values(**values)).rowcount
    if not updated:
        abort(404, f"You have no course {course_id}.")
    db.session.commit()
    return jsonify(db.session.get(Course, course_id).to_dict())


@login_required
def update_courses():
    """Change each of your courses that has one of the codes, or a name with the prefix."""
    payload = json_body(CourseBulkChange)
    values = _changes(payload.set)
    where = payload.where
    matches = [Course.course_code.in_(where.course_codes)] if where.course_codes else []
    if where.name_prefix:
        matches.append(Course.course_name.startswith(where.name_prefix, autoescape=True))
    if not matches:
        abort(400, "where needs course_codes or name_prefix.")
    statement = update(Course).where((Course.teacher_id == _teacher_id()) & or_(*matches)).values(**values)
    updated = db.session.execute(statement.execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return jsonify(updated=updated)


@login_required
def delete_course(course_id: int):
    deleted = db.session.execute(delete(Course).where(_own_course(course_id))).rowcount
    if not deleted:
        abort(404, f"You have no course {course_id}.")
    db.session.commit()
    return "", 204


@login_required
def enroll():
    payload = json_body(EnrollmentIn)
    return _created(school.enroll(current_user, payload.course_id).id)


@login_required
def my_courses():
    """A student's enrolled courses and a teacher's own courses."""
    teaching = current_user.teacher.courses if current_user.teacher else []
    learning = current_user.student.courses if current_user.student else []
    return jsonify(teaching=[course.to_dict() for course in teaching],
                   learning=[course.to_dict() for course in learning])
