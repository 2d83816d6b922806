"""What the school's JSON web services accept, checked as the body is decoded.

A wrong type, a value out of bounds, a missing or an unknown field gives 400
naming the field (see app.payloads).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9_-]+$")]
Id = Annotated[int, msgspec.Meta(ge=1)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=200)]


class _Payload(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class UserIn(_Payload):
    username: Annotated[str, msgspec.Meta(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
    email: Annotated[str, msgspec.Meta(max_length=130, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class TeacherIn(_Payload):
    user_id: Id
    name: Name
    department: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]


class StudentIn(_Payload):
    user_id: Id
    name: Name
    birth_date: date


class CourseIn(_Payload):
    course_name: Name
    course_code: Code
    teacher_id: Id


class CourseChange(_Payload):
    course_name: Name | None = None
    course_code: Code | None = None


class CourseWhere(_Payload):
    """Which courses a bulk change applies to: this teacher's, among these codes or names."""

    teacher_id: Id
    course_codes: list[Code] = []
    name_prefix: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class CourseBulkChange(_Payload):
    where: CourseWhere
    set: CourseChange


class CourseQuery(_Payload):
    teacher_id: Id | None = None
    q: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    limit: Limit = 50


class EnrollmentIn(_Payload):
    student_id: Id
    course_id: Id
