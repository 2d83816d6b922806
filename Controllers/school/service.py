"""School operations, shared by the pages, the JSON endpoints and the named requests.

Each acts for the signed-in user and raises HTTP errors a client understands.
Ownership is part of every write's where: a teacher changes only their own
courses, a student enrols only themselves. Constraint errors (a duplicate course
code, an enrolment in a course that does not exist) need no handling: the
framework rolls the session back and answers 409 naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import delete, insert, or_, update
from werkzeug.exceptions import BadRequest, Conflict, Forbidden, NotFound

from flask_keel.db import db
from flask_keel.realtime import notify
from Models.Forms.school import CourseBulkChange, CourseChange, CourseQuery
from Models.Persistent.school import Course, Enrollment, Student, Teacher


def create_teacher(user, name: str, department: str) -> None:
    """The user's teacher profile (one at most)."""
    if user.teacher is not None:
        raise Conflict("You already have a teacher profile.")
    db.session.execute(insert(Teacher).values(user_id=user.id, name=name, department=department))
    db.session.commit()
    _reload_roles(user)


def create_student(user, name: str, birth_date: date) -> None:
    """The user's student profile (one at most)."""
    if user.student is not None:
        raise Conflict("You already have a student profile.")
    db.session.execute(insert(Student).values(user_id=user.id, name=name, birth_date=birth_date))
    db.session.commit()
    _reload_roles(user)


def _reload_roles(user) -> None:
    """The profile was inserted beside the ORM: the user's (already loaded, None)
    relationships are read again, so an answer right after says what is now true."""
    record = getattr(user, "record", user)  # the signed-in user wraps their row
    if record in db.session:
        db.session.expire(record, ["teacher", "student"])


def roles(user) -> dict[str, bool]:
    return {"teacher": user.teacher is not None, "student": user.student is not None}


def course_code_taken(code: str) -> bool:
    return db.session.scalar(db.select(Course.id).where(Course.course_code == code)) is not None


def open_courses(user) -> list[Course]:
    """Courses the student has not enrolled in yet."""
    taken = db.select(Enrollment.course_id).where(Enrollment.student_id == user.id)
    return list(db.session.scalars(db.select(Course).where(Course.id.not_in(taken)).order_by(Course.course_name)))


def require_teacher(user) -> int:
    if user.teacher is None:
        raise Forbidden("Only teachers can do this; create your teacher profile first.")
    return user.id


def require_student(user) -> int:
    if user.student is None:
        raise Forbidden("Only students can do this; create your student profile first.")
    return user.id


def find_courses(query: CourseQuery) -> list[Course]:
    """Courses, optionally of one teacher, whose name or code contains `q`, at most `limit`."""
    statement = db.select(Course).order_by(Course.id).limit(query.limit)
    if query.teacher_id is not None:
        statement = statement.where(Course.teacher_id == query.teacher_id)
    if query.q:
        statement = statement.where(Course.course_name.contains(query.q, autoescape=True)
                                    | Course.course_code.contains(query.q, autoescape=True))
    return list(db.session.scalars(statement))


def course_by_code(code: str) -> Course:
    course = db.session.scalar(db.select(Course).where(Course.course_code == code))
    if course is None:
        raise NotFound(f"There is no course {code}.")
    return course


def create_course(user, course_name: str, course_code: str) -> Course:
    # INSERT ... RETURNING id (SQLite 3.35+, MariaDB 10.5+; elsewhere SQLAlchemy fetches it).
    course_id = db.session.scalar(insert(Course).values(
        course_name=course_name, course_code=course_code, teacher_id=require_teacher(user)).returning(Course.id))
    db.session.commit()
    return db.session.get(Course, course_id)


def _changes(change: CourseChange) -> dict[str, str]:
    values = {key: value for key, value in (("course_name", change.course_name),
                                            ("course_code", change.course_code)) if value is not None}
    if not values:
        raise BadRequest("Nothing to change: give course_name or course_code.")
    return values


def _own_course(user, course_id: int):
    return (Course.id == course_id) & (Course.teacher_id == require_teacher(user))


def update_course(user, course_id: int, change: CourseChange) -> Course:
    values = _changes(change)
    if not db.session.execute(update(Course).where(_own_course(user, course_id)).values(**values)).rowcount:
        raise NotFound(f"You have no course {course_id}.")
    db.session.commit()
    return db.session.get(Course, course_id)


def update_courses(user, change: CourseBulkChange) -> int:
    """Change each of the teacher's courses that has one of the codes, or a name with the prefix."""
    values = _changes(change.set)
    where = change.where
    matches = [Course.course_code.in_(where.course_codes)] if where.course_codes else []
    if where.name_prefix:
        matches.append(Course.course_name.startswith(where.name_prefix, autoescape=True))
    if not matches:
        raise BadRequest("where needs course_codes or name_prefix.")
    statement = update(Course).where((Course.teacher_id == require_teacher(user)) & or_(*matches)).values(**values)
    updated = db.session.execute(statement.execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return updated


def delete_course(user, course_id: int) -> None:
    if not db.session.execute(delete(Course).where(_own_course(user, course_id))).rowcount:
        raise NotFound(f"You have no course {course_id}.")
    db.session.commit()


def enroll(user, course_id: int) -> Enrollment:
    """Enrol the student, then tell the course's teacher, live."""
    enrollment = Enrollment(student_id=require_student(user), course_id=course_id)
    db.session.add(enrollment)
    db.session.commit()
    course = enrollment.course
    notify(course.teacher_id, "enrolled", {
        "course": course.to_dict(),
        "student": {"user_id": user.id, "name": user.student.name},
        "date_enrolled": enrollment.date_enrolled,
        "message": f"{user.student.name} enrolled in your course {course.course_name}.",
    })
    return enrollment


def my_courses(user) -> dict[str, Iterable[Course]]:
    """A student's enrolled courses and a teacher's own courses."""
    return {"teaching": user.teacher.courses if user.teacher else [],
            "learning": user.student.courses if user.student else []}
