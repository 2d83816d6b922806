"""The school's panel on the dashboard: profiles, a teacher's courses with their
enrolments, a student's courses, forms to create and enrol."""

from __future__ import annotations

import csv
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, request, url_for
from sqlalchemy.orm import contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from Controllers.accounts.pages import render_dashboard
from Controllers.school import service
from Controllers.school.jobs import DEFAULT_MAX_ROWS, count_rows, import_students
from flask_keel.auth import current_user, login_required
from flask_keel.db import db
from flask_keel.errors import wants_json
from flask_keel.jobs import TooManyJobs
from flask_keel.payloads import MAX_ID
from flask_keel.request_limits import body_limit
from flask_keel.ui import dashboard_panel
from Models.Forms.school import CourseForm, EnrollForm, StudentForm, TeacherForm
from Models.Persistent.accounts import User
from Models.Persistent.school import Course, Enrollment

pages = Blueprint("school", __name__, url_prefix="/dashboard")


def _user_with_courses(user_id: int) -> tuple[User, list[Course]]:
    """The user and what the panel shows, in three queries at most: the user with their
    profiles (joined), a teacher's courses with their enrolments and students, and for a
    student every course with its teacher, marked taken or open. The lists land on the
    relationships the template reads (set_committed_value): rendering queries nothing.
    Returns the user and the courses the student can still join, by name."""
    user = db.session.get(User, user_id)
    if user.teacher is not None:
        courses = db.session.scalars(
            db.select(Course).where(Course.teacher_id == user.id)
            .outerjoin(Course.enrollments).outerjoin(Enrollment.student).order_by(Course.id, Enrollment.id)
            .options(contains_eager(Course.enrollments).contains_eager(Enrollment.student))).unique().all()
        set_committed_value(user.teacher, "courses", courses)
    open_courses: list[Course] = []
    if user.student is not None:
        taken = db.select(Enrollment.id).where(Enrollment.course_id == Course.id,
                                               Enrollment.student_id == user.id).exists()
        rows = db.session.execute(db.select(Course, taken).order_by(Course.course_name, Course.id)
                                  .options(joinedload(Course.teacher))).all()
        set_committed_value(user.student, "courses",
                            sorted((course for course, is_taken in rows if is_taken), key=lambda course: course.id))
        open_courses = [course for course, is_taken in rows if not is_taken]
    return user, open_courses


@dashboard_panel(pages, "school/panel.html")
def panel(user, forms: dict[str, Any]) -> dict[str, Any]:
    user, open_courses = _user_with_courses(user.id)
    enroll = forms.get("enroll_form") or EnrollForm(prefix="enroll")
    if user.student is not None:
        enroll.course_id.choices = [(0, "Choose a course…")] + [
            (course.id, f"{course.course_name} ({course.course_code}) with {course.teacher.name}")
            for course in open_courses]
    return {
        "school_user": user,
        "teacher_form": forms.get("teacher_form") or TeacherForm(prefix="teacher"),
        "student_form": forms.get("student_form") or StudentForm(prefix="student"),
        "course_form": forms.get("course_form") or CourseForm(prefix="course"),
        "enroll_form": enroll,
    }


def _create_profile(form_class, prefix: str, create, message: str):
    """Validate a profile form, create the profile, come back to the dashboard."""
    form = form_class(prefix=prefix)
    if not form.validate_on_submit():
        return render_dashboard(400, **{f"{prefix}_form": form})
    create(form)
    flash(message, "success")
    return redirect(url_for("accounts.dashboard"))


@pages.post("/teacher")
@login_required
def become_teacher():
    return _create_profile(TeacherForm, "teacher", lambda form: service.create_teacher(
        current_user, form.name.data, form.department.data), "You can now create courses.")


@pages.post("/student")
@login_required
def become_student():
    return _create_profile(StudentForm, "student", lambda form: service.create_student(
        current_user, form.name.data, form.birth_date.data), "You can now enrol in courses.")


@pages.post("/courses")
@login_required
def create_course():
    form = CourseForm(prefix="course")
    valid = form.validate_on_submit()
    if valid and service.course_code_taken(form.course_code.data):
        form.course_code.errors.append("Another course already has this code.")
        valid = False
    if not valid:
        return render_dashboard(400, course_form=form)
    service.create_course(current_user, form.course_name.data, form.course_code.data)
    flash(f"Course {form.course_name.data} created.", "success")
    return redirect(url_for("accounts.dashboard"))


@pages.post("/enrollments")
@login_required
def enroll():
    form = EnrollForm(prefix="enroll")
    form.course_id.choices = [(0, "")] + [(course.id, "") for course in service.open_courses(current_user)]
    if not form.validate_on_submit():
        return render_dashboard(400, enroll_form=form)
    enrollment = service.enroll(current_user, form.course_id.data)
    flash(f"You are enrolled in {enrollment.course.course_name}.", "success")
    return redirect(url_for("accounts.dashboard"))


# The CSV upload: checked here, at once (size, type, encoding, rows), with a 4xx that
# says why; read row by row by the import_students job, which pushes its progress.
# A teacher has at most JOBS.PER_USER imports waiting or running, and starts at most
# JOBS.USER_RATE of them (429 past either): uploads cannot fill the job storage.
IMPORT_MAX_BYTES = 1024 * 1024
CSV_TYPES = {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"}  # the last: Windows


@pages.post("/courses/import")
@login_required
@body_limit(IMPORT_MAX_BYTES + 16 * 1024)  # the file and the form around it
def import_csv():
    teacher_id = service.require_teacher(current_user)
    course_id = request.form.get("course_id", type=int)
    if course_id is None or not 1 <= course_id <= MAX_ID:
        return _refuse(400, "Choose the course to import into (course_id).")
    if db.session.scalar(db.select(Course.id).where(Course.id == course_id, Course.teacher_id == teacher_id)) is None:
        return _refuse(404, f"You have no course {course_id}.")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _refuse(400, "Choose a CSV file to import.")
    if upload.mimetype not in CSV_TYPES or not upload.filename.lower().endswith(".csv"):
        return _refuse(415, f"The file must be a .csv (text/csv), not {upload.mimetype or 'an unknown type'}.")
    data = upload.read(IMPORT_MAX_BYTES + 1)
    if len(data) > IMPORT_MAX_BYTES:
        return _refuse(413, f"The file is over {IMPORT_MAX_BYTES // 1024} KiB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _refuse(400, f"The file is not UTF-8 text (byte {exc.start} is not); save it as CSV UTF-8.")
    if "\x00" in text:
        return _refuse(400, "The file is not text (it holds NUL bytes).")
    max_rows = int(current_app.config.get("IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS))
    try:
        rows = count_rows(text)
    except csv.Error as exc:
        return _refuse(400, f"The file is not a CSV that can be read ({exc}).")
    if rows > max_rows:
        return _refuse(413, f"The file has {rows:,} rows; at most {max_rows:,} can be imported at once.")
    try:
        job_id = import_students(teacher_id, course_id, text, max_rows)
    except TooManyJobs as exc:
        return _refuse(429, exc.description, {"Retry-After": str(exc.retry_after)})
    if wants_json():
        return jsonify(id=job_id, course_id=course_id), 202
    flash("Import started: its progress appears on the dashboard.", "success")
    return redirect(url_for("accounts.dashboard"))


def _refuse(status: int, reason: str, headers: dict[str, str] | None = None):
    if wants_json():
        return jsonify(error=reason), status, headers or {}
    flash(reason, "error")
    response = render_dashboard(status)
    if headers:
        response = current_app.make_response(response)
        response.headers.update(headers)
    return response
