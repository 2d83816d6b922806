"""The dashboard's forms: a profile to teach or to study, a course, an enrolment."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Regexp, ValidationError

from Models.Forms.school import CODE_PATTERN


class TeacherForm(FlaskForm):
    name = StringField("Your name as teachers see it", validators=[DataRequired(), Length(max=100)])
    department = StringField("Department", validators=[DataRequired(), Length(max=50)])


class StudentForm(FlaskForm):
    name = StringField("Your name as students see it", validators=[DataRequired(), Length(max=100)])
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
