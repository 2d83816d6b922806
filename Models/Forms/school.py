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

from flask_keel.payloads import Id, InvalidPayload

CODE_PATTERN = r"^[A-Za-z0-9_-]+$"

# What a name shown to other people never holds, on every path (the JSON API, named
# requests, the dashboard's forms, the CSV import): control characters (C0, DEL, C1,
# line and paragraph separators), bidi embeddings, overrides and isolates (U+202E shows
# "gpj.exe" as "exe.jpg"), zero-width and other invisible format characters (U+200B,
# joiners, U+2060, U+FEFF, tag characters) and lone surrogates. Escapes, not the
# characters, so the pattern reads the same in the API description. `$(?!\n)`: Python's
# `$` alone also matches before a final newline.
INVISIBLE = (r"\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
             r"\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f")
TEXT_PATTERN = rf"^[^{INVISIBLE}]*$(?!\n)"
VISIBLE_TEXT = "Use letters, digits, spaces and punctuation only (no control or invisible characters)."

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=TEXT_PATTERN)]
Department = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=TEXT_PATTERN)]

# The one range of birth dates, for the form, the JSON API, named requests and the CSV import.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def birth_date_problem(value: date) -> str | None:
    """Why `value` is not a birth date we accept, or None."""
    if not EARLIEST_BIRTH_DATE <= value <= date.today():
        return "Enter a date between 1900 and today."
    return None
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=10, pattern=CODE_PATTERN)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=200)]


class _Payload(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class TeacherIn(_Payload):
    name: Name
    department: Department


class StudentIn(_Payload):
    name: Name
    birth_date: date

    def __post_init__(self) -> None:
        # Raised as is (msgspec wraps only ValueError and TypeError): a 400 naming the field.
        problem = birth_date_problem(self.birth_date)
        if problem:
            raise InvalidPayload(problem, "birth_date")


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

def _visible(max_length: int) -> list:
    return [DataRequired(), Length(max=max_length), Regexp(TEXT_PATTERN, message=VISIBLE_TEXT)]


class TeacherForm(FlaskForm):
    # Students see a teacher's name next to each course.
    name = StringField("Your name as students see it", validators=_visible(100))
    department = StringField("Department", validators=_visible(50))


class StudentForm(FlaskForm):
    # Teachers see a student's name when they enrol.
    name = StringField("Your name as teachers see it", validators=_visible(100))
    birth_date = DateField("Date of birth", validators=[DataRequired(message="Enter a date like 2010-04-01.")])

    def validate_birth_date(self, field) -> None:
        problem = field.data and birth_date_problem(field.data)
        if problem:
            raise ValidationError(problem)


class CourseForm(FlaskForm):
    course_name = StringField("Course name", validators=_visible(100))
    course_code = StringField("Course code", description="Up to 10 letters, digits, dashes or underscores.",
                              validators=[DataRequired(), Length(max=10),
                                          Regexp(CODE_PATTERN, message="Use only letters, digits, - and _.")])


class EnrollForm(FlaskForm):
    course_id = SelectField("Course", coerce=int, validate_choice=True,
                            validators=[NumberRange(min=1, message="Choose a course.")])
