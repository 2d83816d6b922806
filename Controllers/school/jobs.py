"""The school demo's background job: a teacher's CSV of students, enrolled into a course.

The page uploads the file (Controllers/school/pages.py checks its size, type and
encoding), this job reads it row by row with live progress, and the whole import
is one transaction: a bad row is reported by its line number and nothing of the
file is kept. Running it twice enrols nobody twice (a retry is safe).
"""

from __future__ import annotations

import csv
import io
from datetime import date

from flask_keel.db import db, normalise_username
from flask_keel.jobs import JobError, progress, task
from Models.Persistent.accounts import User
from Models.Persistent.school import Course, Enrollment, Student

COLUMNS = ("username", "name", "birth_date")
# Progress pushes per file at most: enough for a smooth bar, few enough for the socket.
PROGRESS_STEPS = 20


def read_rows(text: str) -> list[tuple[int, list[str]]]:
    """The data rows with their line numbers; JobError when the header is not COLUMNS."""
    reader = csv.reader(io.StringIO(text))
    rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if not rows or tuple(cell.strip().lower() for cell in rows[0][1]) != COLUMNS:
        raise JobError(f"line 1: the columns must be {','.join(COLUMNS)}")
    return rows[1:]


@task(retries=2, retry_delay=5)
def import_students(teacher_id: int, course_id: int, text: str) -> dict:
    course = db.session.get(Course, course_id)
    if course is None or course.teacher_id != teacher_id:
        raise JobError(f"You have no course {course_id}.")
    rows = read_rows(text)
    enrolled = already = 0
    every = max(1, len(rows) // PROGRESS_STEPS)
    for done, (line, row) in enumerate(rows, start=1):
        student = _student_of(line, row)
        taken = db.session.scalar(db.select(Enrollment.id).where(
            Enrollment.student_id == student.user_id, Enrollment.course_id == course.id))
        if taken is None:
            db.session.add(Enrollment(student_id=student.user_id, course_id=course.id))
            db.session.flush()
            enrolled += 1
        else:
            already += 1
        if done % every == 0 or done == len(rows):
            progress(100 * done / len(rows), f"{done} of {len(rows)} rows")
    db.session.commit()  # the one write: all rows or none
    return {"message": f"Import into {course.course_name}: {enrolled} enrolled, {already} already were.",
            "course_id": course.id, "enrolled": enrolled, "already": already}


def _student_of(line: int, row: list[str]) -> Student:
    if len(row) != len(COLUMNS):
        raise JobError(f"line {line}: expected {len(COLUMNS)} values ({','.join(COLUMNS)}), found {len(row)}")
    username, name, birth = (cell.strip() for cell in row)
    user = db.session.scalar(db.select(User).where(User.username == normalise_username(username)))
    if user is None:
        raise JobError(f"line {line}: there is no user {username!r}")
    try:
        birth_date = date.fromisoformat(birth)
    except ValueError:
        raise JobError(f"line {line}: birth_date {birth!r} is not a date (YYYY-MM-DD)") from None
    if not name or len(name) > 100:
        raise JobError(f"line {line}: name must be 1 to 100 characters")
    if user.student is None:
        user.student = Student(user_id=user.id, name=name, birth_date=birth_date)
        db.session.flush()
    return user.student
