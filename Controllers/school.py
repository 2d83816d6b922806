"""School operations shared by the JSON controllers and the named requests.

Each acts for the signed-in user and raises HTTP errors a client understands.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from werkzeug.exceptions import Conflict, Forbidden

from app.db import db
from app.realtime import notify
from Models.Forms.school import CourseQuery
from Models.Persistent.school import Course, Enrollment, Student, Teacher


def create_teacher(user, name: str, department: str) -> None:
    """The user's teacher profile (one at most)."""
    if user.teacher is not None:
        raise Conflict("You already have a teacher profile.")
    db.session.execute(insert(Teacher).values(user_id=user.id, name=name, department=department))
    db.session.commit()


def create_student(user, name: str, birth_date) -> None:
    """The user's student profile (one at most)."""
    if user.student is not None:
        raise Conflict("You already have a student profile.")
    db.session.execute(insert(Student).values(user_id=user.id, name=name, birth_date=birth_date))
    db.session.commit()


def course_code_taken(code: str) -> bool:
    return db.session.scalar(select(Course.id).where(Course.course_code == code)) is not None


def open_courses(user) -> list[Course]:
    """Courses the student has not enrolled in yet."""
    taken = select(Enrollment.course_id).where(Enrollment.student_id == user.id)
    return list(db.session.scalars(select(Course).where(Course.id.not_in(taken)).order_by(Course.course_name)))


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
    statement = select(Course).order_by(Course.id).limit(query.limit)
    if query.teacher_id is not None:
        statement = statement.where(Course.teacher_id == query.teacher_id)
    if query.q:
        statement = statement.where(Course.course_name.contains(query.q, autoescape=True)
                                    | Course.course_code.contains(query.q, autoescape=True))
    return list(db.session.scalars(statement))


def create_course(user, course_name: str, course_code: str) -> int:
    # INSERT ... RETURNING id (SQLite 3.35+, MariaDB 10.5+; elsewhere SQLAlchemy fetches it).
    course_id = db.session.scalar(insert(Course).values(
        course_name=course_name, course_code=course_code, teacher_id=require_teacher(user)).returning(Course.id))
    db.session.commit()
    return course_id


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
