"""The school demo: the teachers and students users are, courses and enrolments.

Listed with `accounts` in DATABASE.main.models, so it lives in the same database
and refers to `users`. After changing a model, `flask db migrate -m "what
changed"` writes the next numbered revision and `flask db upgrade` applies it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from flask_keel.db import db
from Models.Persistent.accounts import User


def _profile_of_user(name: str):
    # Adds `User.<name>` (the user's profile, or None), loaded with the user: most pages
    # that load a user ask whether they teach or study. Profiles go with their user in
    # the ORM as in the database (ON DELETE CASCADE).
    return backref(name, uselist=False, lazy="joined", cascade="all, delete-orphan", passive_deletes=True)


class Teacher(db.Model):
    __tablename__ = "teachers"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(50))

    user: Mapped[User] = relationship(backref=_profile_of_user("teacher"))
    courses: Mapped[list[Course]] = relationship(back_populates="teacher", cascade="all, delete-orphan",
                                                 passive_deletes=True)

    def to_dict(self) -> dict[str, object]:
        return {"user_id": self.user_id, "name": self.name, "department": self.department}


class Course(db.Model):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_name: Mapped[str] = mapped_column(String(100))
    course_code: Mapped[str] = mapped_column(String(10), unique=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.user_id", ondelete="CASCADE"), index=True)

    teacher: Mapped[Teacher] = relationship(back_populates="courses")
    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="course", cascade="all, delete-orphan",
                                                         passive_deletes=True)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "course_name": self.course_name, "course_code": self.course_code,
                "teacher_id": self.teacher_id}


class Student(db.Model):
    __tablename__ = "students"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)

    user: Mapped[User] = relationship(backref=_profile_of_user("student"))
    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="student", cascade="all, delete-orphan",
                                                         passive_deletes=True)
    # A many-to-many through Enrollment: read through the enrolments.
    courses: Mapped[list[Course]] = relationship(secondary="enrollments", viewonly=True, order_by="Course.id")

    def to_dict(self) -> dict[str, object]:
        return {"user_id": self.user_id, "name": self.name, "birth_date": self.birth_date.isoformat()}


class Enrollment(db.Model):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("student_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.user_id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    date_enrolled: Mapped[date] = mapped_column(Date, default=date.today)

    student: Mapped[Student] = relationship(back_populates="enrollments")
    course: Mapped[Course] = relationship(back_populates="enrollments")

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "student_id": self.student_id, "course_id": self.course_id,
                "date_enrolled": self.date_enrolled.isoformat()}
