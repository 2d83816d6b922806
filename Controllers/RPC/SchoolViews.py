"""Named-request views. Each takes an RpcRequest and returns any JSON-able value:
dicts, lists, dataclasses, datetimes, Decimals, UUIDs, models with to_dict().

Call them from Python with app.client.Client, or as POST /ws/<name>.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from sqlalchemy import func, select

from app.cache import cache
from app.db import db
from app.realtime import notify
from app.rpc import RpcRequest, public
from Controllers import school
from Models.Forms.school import CourseIn, CourseQuery, EnrollmentIn, StudentIn, TeacherIn
from Models.Persistent.school import Course, Enrollment, Student


@public
def ping(request: RpcRequest) -> dict[str, Any]:
    """Public, so it answers the same whatever was sent: nothing of the payload comes back."""
    return {"pong": True, "server_time": datetime.now(UTC)}


def echo(request: RpcRequest) -> dict[str, Any]:
    """What you sent, back (signed-in users only: a public echo is an amplifier)."""
    return {"echo": request.payload}


def whoami(request: RpcRequest) -> dict[str, Any]:
    return request.user.to_dict()


def become_teacher(request: RpcRequest) -> dict[str, Any]:
    """Your teacher profile (what POST /ws/teachers does), so you can create courses."""
    payload = request.parse(TeacherIn)
    school.create_teacher(request.user, payload.name, payload.department)
    return {"user_id": request.user.id, "teacher": True}


def become_student(request: RpcRequest) -> dict[str, Any]:
    """Your student profile (what POST /ws/students does), so you can enrol."""
    payload = request.parse(StudentIn)
    school.create_student(request.user, payload.name, payload.birth_date)
    return {"user_id": request.user.id, "student": True}


def list_courses(request: RpcRequest) -> list[Course]:
    return school.find_courses(request.parse(CourseQuery) if request.payload else CourseQuery())


def create_course(request: RpcRequest) -> Course:
    payload = request.parse(CourseIn)
    return db.session.get(Course, school.create_course(request.user, payload.course_name, payload.course_code))


def enroll(request: RpcRequest) -> Enrollment:
    return school.enroll(request.user, request.parse(EnrollmentIn).course_id)


@dataclass
class Summary:
    courses: int
    students: int
    enrolments_per_course: Decimal
    generated_at: datetime
    snapshot: uuid.UUID


def _summary() -> dict[str, Any]:
    courses = db.session.scalar(select(func.count()).select_from(Course))
    enrolments = db.session.scalar(select(func.count()).select_from(Enrollment))
    per_course = (Decimal(enrolments) / courses).quantize(Decimal("0.01")) if courses else Decimal("0.00")
    summary = Summary(courses, db.session.scalar(select(func.count()).select_from(Student)), per_course,
                      datetime.now(UTC), uuid.uuid4())
    return msgspec.to_builtins(summary)


def summary(request: RpcRequest) -> dict[str, Any]:
    """Counts for a dashboard, cached for 10 s (a cache outage only means recounting)."""
    return cache.get_or_set("school:summary", _summary, timeout=10)


class PushIn(msgspec.Struct, forbid_unknown_fields=True):
    event: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.-]{0,49}$")]
    data: Any = None


def push_to_me(request: RpcRequest) -> dict[str, bool]:
    """Send yourself a server push (to try a client's `on(event, fn)`)."""
    push = request.parse(PushIn)
    notify(request.user, push.event, push.data)
    return {"sent": True}
