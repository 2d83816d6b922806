"""What the school accepts: msgspec structs for its JSON services and named requests
(a wrong type, a value out of bounds, a missing or an unknown field gives 400
naming the field, see app.payloads), Flask-WTF forms for its dashboard panel.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Regexp, ValidationError

from flask_keel.payloads import Id

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


# -- the dashboard panel's forms ------------------------------------------------------------

class TeacherForm(FlaskForm):
    # Students see a teacher's name next to each course.
    name = StringField("Your name as students see it", validators=[DataRequired(), Length(max=100)])
    department = StringField("Department", validators=[DataRequired(), Length(max=50)])


class StudentForm(FlaskForm):
    # Teachers see a student's name when they enrol.
    name = StringField("Your name as teachers see it", validators=[DataRequired(), Length(max=100)])
    birth_date = DateField("Date of birth", validators=[DataRequired(message="Enter a date like 2010-04-01.")])

    def validate_birth_date(self, field) -> None:
        if field.data and not date(1900, 1, 1) <= field.data <= date.today():
            raise ValidationError("Enter a date between 1900 and today.")


class CourseForm(FlaskForm):
    course_name = StringField("Course name", validators=[DataRequired(), Length(max=100)])
    course_code = StringField("Course code", description="Up to 10 letters, digits, dashes or underscores.",
                              validators=[DataRequired(), Length(max=10),
                                          Regexp(CODE_PATTERN, message="Use only letters, digits, - and _.")])


class EnrollForm(FlaskForm):
    course_id = SelectField("Course", coerce=int, validate_choice=True,
                            validators=[NumberRange(min=1, message="Choose a course.")])
