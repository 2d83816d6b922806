"""The school demo's background job: a teacher's CSV of students, enrolled into a course.

The page uploads the file (Controllers/school/pages.py checks its size, type,
encoding and row count), this job reads it with live progress, and the whole
import is one transaction: a bad row is reported by its line number and nothing
of the file is kept. Running it twice enrols nobody twice (a retry is safe).

It enrols users who already are students, and changes nobody's profile: the
`name` and `birth_date` columns are checked as values, but a student's profile
is theirs to write. A user with no student profile is a bad row, like an unknown one.

Rows are looked up BATCH at a time, with a pause() between batches: under `make run`
the job runs as a greenlet beside the requests of the same process, which it must
let run. The enrolments are written at the end in one short transaction, so no
write lock is held while other greenlets run.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from sqlalchemy import Date, insert, literal

from flask_keel.db import db, normalise_username
from flask_keel.jobs import JobError, progress, task
from Models.Forms.school import TEXT_PATTERN, VISIBLE_TEXT, birth_date_problem
from Models.Persistent.accounts import User
from Models.Persistent.school import Course, Enrollment, Student

COLUMNS = ("username", "name", "birth_date")
# Rows looked up at once at most: a few milliseconds of work between two pauses.
BATCH = 250
# Enrolments written by one INSERT ... SELECT (the ids are its parameters).
WRITE_CHUNK = 500
# Progress pushes per file at least (a small file's batches are smaller): a smooth bar.
PROGRESS_STEPS = 20
# Rows a file may hold when the app's IMPORT_MAX_ROWS is not set (pages.py refuses more with 413).
DEFAULT_MAX_ROWS = 10_000


def read_rows(text: str) -> list[tuple[int, list[str]]]:
    """The data rows with their line numbers; JobError when the header is not COLUMNS."""
    reader = csv.reader(io.StringIO(text))
    try:
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise JobError(f"line {reader.line_num}: {exc}") from None
    if not rows or tuple(cell.strip().lower() for cell in rows[0][1]) != COLUMNS:
        raise JobError(f"line 1: the columns must be {','.join(COLUMNS)}")
    return rows[1:]


def count_rows(text: str) -> int:
    """Data rows in the file (what read_rows would return), counted without keeping them."""
    return max(0, sum(1 for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)) - 1)


@task(retries=2, retry_delay=5, keep_failed=False)  # a failure keeps its error, never the file
def import_students(teacher_id: int, course_id: int, text: str, max_rows: int = DEFAULT_MAX_ROWS) -> dict:
    course = db.session.get(Course, course_id)
    if course is None or course.teacher_id != teacher_id:
        raise JobError(f"You have no course {course_id}.")
    rows = read_rows(text)
    if len(rows) > max_rows:
        raise JobError(f"The file has {len(rows)} rows; at most {max_rows} can be imported at once.")
    taken = set(db.session.scalars(db.select(Enrollment.student_id).where(Enrollment.course_id == course.id)))
    course_name = course.course_name
    db.session.rollback()  # no transaction stays open across the pauses below
    new: list[int] = []
    already = 0
    size = max(1, min(BATCH, -(-len(rows) // PROGRESS_STEPS)))
    for start in range(0, len(rows), size):
        for student_id in _students_of(rows[start:start + size]):
            if student_id in taken:
                already += 1
            else:
                taken.add(student_id)
                new.append(student_id)
        db.session.rollback()
        done = min(start + size, len(rows))
        progress(100 * done / len(rows), f"{done} of {len(rows)} rows")  # and a pause()
    # The one write, with no pause inside: all rows or none. INSERT ... SELECT in chunks of
    # ids: SQLite does the rows' work, in a fraction of what binding each row would take.
    today = date.today()
    enrolled = 0  # as written: a student who left meanwhile is not counted
    for start in range(0, len(new), WRITE_CHUNK):
        chosen = db.select(Student.user_id, literal(course_id), literal(today, Date)) \
            .where(Student.user_id.in_(new[start:start + WRITE_CHUNK]))
        enrolled += db.session.execute(
            insert(Enrollment).from_select(["student_id", "course_id", "date_enrolled"], chosen)).rowcount
    db.session.commit()
    return {"message": f"Import into {course_name}: {enrolled} enrolled, {already} already were.",
            "course_id": course_id, "enrolled": enrolled, "already": already}


def _students_of(batch: list[tuple[int, list[str]]]) -> list[int]:
    """The user ids of the batch's rows, in order; JobError naming the first bad row's line."""
    values = [_values_of(line, row) for line, row in batch]
    names = {username for _, username, _ in values}
    found = dict(db.session.execute(db.select(User.username, Student.user_id)
                                    .outerjoin(Student, Student.user_id == User.id)
                                    .where(User.username.in_(names))).all())
    ids = []
    for line, username, given in values:
        if username not in found:
            raise JobError(f"line {line}: there is no user {given!r}")
        if found[username] is None:
            raise JobError(f"line {line}: {given!r} is not a student (they have no student profile yet)")
        ids.append(found[username])
    return ids


def _values_of(line: int, row: list[str]) -> tuple[int, str, str]:
    """(line, the username as stored, as written); JobError for a malformed row."""
    if len(row) != len(COLUMNS):
        raise JobError(f"line {line}: expected {len(COLUMNS)} values ({','.join(COLUMNS)}), found {len(row)}")
    username, name, birth = (cell.strip() for cell in row)
    if not username or len(username) > 100:
        raise JobError(f"line {line}: username must be 1 to 100 characters")
    try:
        born = date.fromisoformat(birth)
    except ValueError:
        raise JobError(f"line {line}: birth_date {birth!r} is not a date (YYYY-MM-DD)") from None
    if problem := birth_date_problem(born):
        raise JobError(f"line {line}: birth_date {birth}: {problem}")
    if not name or len(name) > 100:
        raise JobError(f"line {line}: name must be 1 to 100 characters")
    if not re.match(TEXT_PATTERN, name):
        raise JobError(f"line {line}: name: {VISIBLE_TEXT}")
    return line, normalise_username(username), username
