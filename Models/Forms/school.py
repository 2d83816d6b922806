"""What the school's JSON web services accept, checked as the body is decoded.

A wrong type, a value out of bounds, a missing or an unknown field gives 400
naming the field (see app.payloads).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from app.payloads import Id

CODE_PATTERN = r"^[A-Za-z0-9_-]+$"

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=10, pattern=CODE_PATTERN)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=200)]


class _Payload(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class TeacherIn(_Payload):
    name: Name
    department: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]


class StudentIn(_Payload):
    name: Name
    birth_date: date


class CourseIn(_Payload):
    course_name: Name
    course_code: Code


class CourseChange(_Payload):
    course_name: Name | None = None
    course_code: Code | None = None


class CourseWhere(_Payload):
    """Which of your courses a bulk change applies to: these codes, or names with this prefix."""

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
    course_id: Id
