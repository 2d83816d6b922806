"""The conventional build: what a team writes without the template, with the same
libraries used the usual way, serving the bench's five scenarios as the template does.

Flask-Login (the user loaded with db.session.get on each signed-in request),
Flask-Session on Redis, Flask-WTF's CSRFProtect, Flask-SQLAlchemy (db.session.get,
db.select), the project's Jinja templates (template/), a request id set here and
logged by gunicorn's own access log. It reads the template's tables (its migrations
ran first). What it leaves out that the template does: bench/README.md.

/ws/info            the same JSON as the template's
/                   the home page (layout.html: the user in the navigation when signed in)
/ws/catalog/<code>  one course by its code, through the SQLAlchemy session
/dashboard          dashboard.html with the school panel, loaded with the template's queries
/ws/csrf, /ws/login JSON, to sign the bench's teacher in
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import redis
from flask import Flask, abort, g, jsonify, render_template, request
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user
from flask_session import Session
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect, generate_csrf
from sqlalchemy.orm import contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

ROOT = Path(os.environ.get("BENCH_PROJECT") or Path(__file__).resolve().parents[3])
env = os.environ
app = Flask(__name__, template_folder=ROOT / "template", static_folder=ROOT / "static")
app.config.update(
    SECRET_KEY=env.get("BENCH_SECRET_KEY", "conventional-" + "k" * 40),
    APP_NAME=env.get("BENCH_APP_NAME", "conventional"), APP_ENV=env.get("BENCH_APP_ENV", "UAT"),
    SOCKETIO_TRANSPORTS=["websocket"],  # read by dashboard.html
    SESSION_TYPE="redis", SESSION_REDIS=redis.Redis(host=env["BENCH_REDIS_HOST"], port=int(env["BENCH_REDIS_PORT"])),
    SESSION_KEY_PREFIX=env.get("BENCH_APP_NAME", "conventional") + ":conventional-session:",
    SQLALCHEMY_DATABASE_URI=(f"mysql+pymysql://{env['BENCH_DB_USER']}:{env.get('BENCH_DB_PASSWORD', '')}@"
                             f"{env['BENCH_DB_HOST']}:{env['BENCH_DB_PORT']}/{env['BENCH_DB_NAME']}?charset=utf8mb4"),
    # The template's pool (40 connections an instance, shared out between its workers).
    SQLALCHEMY_ENGINE_OPTIONS={"pool_size": -(-40 // int(env.get("BENCH_WORKERS", "1"))), "max_overflow": 0,
                               "pool_recycle": 280},
)
db = SQLAlchemy(app)
Session(app)
CSRFProtect(app)
login_manager = LoginManager(app)


# -- the template's tables, the columns it selects --------------------------------------------
class User(UserMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(100))
    password_hash = db.Column(db.String(255))
    email = db.Column(db.String(130))
    created_at = db.Column(db.DateTime)
    teacher = db.relationship("Teacher", uselist=False, lazy="joined")
    student = db.relationship("Student", uselist=False, lazy="joined")


class Teacher(db.Model):
    __tablename__ = "teachers"
    user_id = db.Column(db.ForeignKey("users.id"), primary_key=True)
    name = db.Column(db.String(100))
    department = db.Column(db.String(50))
    courses = db.relationship("Course", back_populates="teacher")


class Course(db.Model):
    __tablename__ = "courses"
    id = db.Column(db.Integer, primary_key=True)
    course_name = db.Column(db.String(100))
    course_code = db.Column(db.String(10))
    teacher_id = db.Column(db.ForeignKey("teachers.user_id"))
    teacher = db.relationship("Teacher", back_populates="courses")
    enrollments = db.relationship("Enrollment", back_populates="course")


class Student(db.Model):
    __tablename__ = "students"
    user_id = db.Column(db.ForeignKey("users.id"), primary_key=True)
    name = db.Column(db.String(100))
    birth_date = db.Column(db.Date)
    courses = db.relationship("Course", secondary="enrollments", viewonly=True, order_by="Course.id")


class Enrollment(db.Model):
    __tablename__ = "enrollments"
    id = db.Column(db.Integer, primary_key=True)
    student_id = db.Column(db.ForeignKey("students.user_id"))
    course_id = db.Column(db.ForeignKey("courses.id"))
    date_enrolled = db.Column(db.Date)
    student = db.relationship("Student")
    course = db.relationship("Course", back_populates="enrollments")


# -- the panel's forms, as the project declares them ----------------------------------------
class TeacherForm(FlaskForm):
    name = StringField("Your name as students see it", validators=[DataRequired(), Length(max=100)])
    department = StringField("Department", validators=[DataRequired(), Length(max=50)])


class StudentForm(FlaskForm):
    name = StringField("Your name as teachers see it", validators=[DataRequired(), Length(max=100)])
    birth_date = DateField("Date of birth", validators=[DataRequired(message="Enter a date like 2010-04-01.")])


class CourseForm(FlaskForm):
    course_name = StringField("Course name", validators=[DataRequired(), Length(max=100)])
    course_code = StringField("Course code", description="Up to 10 letters, digits, dashes or underscores.",
                              validators=[DataRequired(), Length(max=10), Regexp(r"^[A-Za-z0-9_-]+$")])


class EnrollForm(FlaskForm):
    course_id = SelectField("Course", coerce=int, validators=[NumberRange(min=1, message="Choose a course.")])


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, int(user_id))


@app.before_request
def request_id():
    g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex


@app.after_request
def send_request_id(response):
    response.headers["X-Request-ID"] = g.request_id
    return response


# What the templates expect of the framework: its navigation links (none here).
app.context_processor(lambda: {"nav_links": ()})


@app.get("/ws/info")
def info():
    return jsonify(name=app.config["APP_NAME"], env=app.config["APP_ENV"])


@app.get("/", endpoint="core.home")
def home():
    return render_template("home.html", app_name=app.config["APP_NAME"])


@app.get("/ws/catalog/<code>")
def catalog(code: str):
    course = db.session.scalar(db.select(Course).where(Course.course_code == code))
    if course is None:
        abort(404)
    return jsonify(id=course.id, course_name=course.course_name, course_code=course.course_code,
                   teacher_id=course.teacher_id)


@app.get("/ws/csrf")
def csrf():
    return jsonify(csrf_token=generate_csrf())


@app.post("/ws/login")
def login():
    payload = request.get_json()
    user = db.session.scalar(db.select(User).where(User.username == payload["username"]))
    if user is None or not check_password_hash(user.password_hash, payload["password"]):
        return jsonify(error="invalid_credentials"), 401
    login_user(user)
    return jsonify(user={"id": user.id, "username": user.username}, csrf_token=generate_csrf())


@app.get("/dashboard", endpoint="accounts.dashboard")
@login_required
def dashboard():
    """The school panel with the template's queries (Controllers/school/pages.py)."""
    user = db.session.get(User, current_user.id)
    if user.teacher is not None:
        courses = db.session.scalars(
            db.select(Course).where(Course.teacher_id == user.id)
            .outerjoin(Course.enrollments).outerjoin(Enrollment.student).order_by(Course.id, Enrollment.id)
            .options(contains_eager(Course.enrollments).contains_eager(Enrollment.student))).unique().all()
        set_committed_value(user.teacher, "courses", courses)
    enroll = EnrollForm(prefix="enroll")
    if user.student is not None:
        taken = db.select(Enrollment.id).where(Enrollment.course_id == Course.id,
                                               Enrollment.student_id == user.id).exists()
        rows = db.session.execute(db.select(Course, taken).order_by(Course.course_name, Course.id)
                                  .options(joinedload(Course.teacher))).all()
        set_committed_value(user.student, "courses", sorted((c for c, t in rows if t), key=lambda c: c.id))
        enroll.course_id.choices = [(0, "Choose a course…")] + [
            (c.id, f"{c.course_name} ({c.course_code}) with {c.teacher.name}") for c, t in rows if not t]
    panel = {"school_user": user, "teacher_form": TeacherForm(prefix="teacher"),
             "student_form": StudentForm(prefix="student"), "course_form": CourseForm(prefix="course"),
             "enroll_form": enroll}
    return render_template("dashboard.html", user=current_user, panels=[("school/panel.html", panel)])


# Pages the templates link to, which the bench never loads: here only so that url_for finds them.
for endpoint, rule in {"accounts.login": "/login", "accounts.signup": "/signup", "accounts.logout_page": "/logout",
                       "health.healthz": "/healthz", "health.readyz": "/readyz",
                       "school.import_csv": "/dashboard/courses/import", "school.create_course": "/dashboard/courses",
                       "school.enroll": "/dashboard/enrollments", "school.become_teacher": "/dashboard/teacher",
                       "school.become_student": "/dashboard/student"}.items():
    app.add_url_rule(rule, endpoint, lambda: abort(404), methods=["GET", "POST"])
