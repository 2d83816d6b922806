"""JSON CRUD for the school, in SQLAlchemy 2.0 style.

Each view shows one kind of call: insert returning the new id, select with
filters and a limit, update with a where of and/or conditions, delete.
Constraint errors (a duplicate code, a course for a teacher that does not
exist) need no handling here: the framework rolls the session back and answers
409 naming the field, so a request writes everything or nothing.
"""

from __future__ import annotations

import msgspec
from flask import abort, jsonify
from sqlalchemy import delete, insert, or_, select, update

from app.db import db
from app.payloads import json_body, query_args
from Models.Forms.school import CourseBulkChange, CourseChange, CourseIn, CourseQuery, EnrollmentIn, StudentIn, \
    TeacherIn, UserIn
from Models.Persistent.school import Course, Enrollment, Student, Teacher, User


def _created(record_id: int):
    return jsonify(id=record_id), 201


def create_user():
    payload = json_body(UserIn)
    user = User(username=payload.username, email=payload.email)
    user.set_password(payload.password)
    db.session.add(user)
    db.session.commit()
    return _created(user.id)


def _create_profile(model, payload_type):
    """A teacher or student: a row keyed by the user it belongs to."""
    payload = json_body(payload_type)
    db.session.execute(insert(model).values(**msgspec.structs.asdict(payload)))
    db.session.commit()
    return _created(payload.user_id)


def create_teacher():
    return _create_profile(Teacher, TeacherIn)


def create_student():
    return _create_profile(Student, StudentIn)


def create_course():
    payload = json_body(CourseIn)
    # INSERT ... RETURNING id (SQLite 3.35+, MariaDB 10.5+; elsewhere SQLAlchemy fetches it).
    course_id = db.session.scalar(
        insert(Course).values(course_name=payload.course_name, course_code=payload.course_code,
                              teacher_id=payload.teacher_id).returning(Course.id))
    db.session.commit()
    return _created(course_id)


def list_courses():
    query = query_args(CourseQuery)
    statement = select(Course).order_by(Course.id).limit(query.limit)
    if query.teacher_id is not None:
        statement = statement.where(Course.teacher_id == query.teacher_id)
    if query.q:
        statement = statement.where(Course.course_name.contains(query.q, autoescape=True)
                                    | Course.course_code.contains(query.q, autoescape=True))
    return jsonify([course.to_dict() for course in db.session.scalars(statement)])


def get_course(course_id: int):
    course = db.session.get(Course, course_id) or abort(404, f"no course {course_id}")
    return jsonify(course.to_dict())


def _changes(change: CourseChange) -> dict[str, str]:
    values = {key: value for key, value in (("course_name", change.course_name),
                                            ("course_code", change.course_code)) if value is not None}
    if not values:
        abort(400, "nothing to change: give course_name or course_code")
    return values


def update_course(course_id: int):
    values = _changes(json_body(CourseChange))
    updated = db.session.execute(update(Course).where(Course.id == course_id).values(**values)).rowcount
    if not updated:
        abort(404, f"no course {course_id}")
    db.session.commit()
    return jsonify(db.session.get(Course, course_id).to_dict())


def update_courses():
    """Change every course of one teacher that has one of the codes, or a name with the prefix."""
    payload = json_body(CourseBulkChange)
    values = _changes(payload.set)
    where = payload.where
    matches = [Course.course_code.in_(where.course_codes)] if where.course_codes else []
    if where.name_prefix:
        matches.append(Course.course_name.startswith(where.name_prefix, autoescape=True))
    if not matches:
        abort(400, "where needs course_codes or name_prefix")
    statement = update(Course).where((Course.teacher_id == where.teacher_id) & or_(*matches)).values(**values)
    updated = db.session.execute(statement.execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return jsonify(updated=updated)


def delete_course(course_id: int):
    deleted = db.session.execute(delete(Course).where(Course.id == course_id)).rowcount
    if not deleted:
        abort(404, f"no course {course_id}")
    db.session.commit()
    return "", 204


def enroll():
    payload = json_body(EnrollmentIn)
    enrollment = Enrollment(student_id=payload.student_id, course_id=payload.course_id)
    db.session.add(enrollment)
    db.session.commit()
    return _created(enrollment.id)


def student_courses(student_id: int):
    student = db.session.get(Student, student_id) or abort(404, f"no student {student_id}")
    return jsonify([course.to_dict() for course in student.courses])
