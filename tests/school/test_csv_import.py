"""The CSV import of students, a background job: in a real browser (the progress bar
fills and the result appears without a reload), its refusals over HTTP, and whom it
may enrol (students only; nobody's profile is written). The helpers here serve the
other tests of the import (test_import_*.py)."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from flask_keel.client import Client
from flask_keel.testing import signed_up, wait_until
from flask_keel.testing.browser import sign_up

pytestmark = pytest.mark.integration

HEADER = b"username,name,birth_date\n"


class TeacherClient:
    """A teacher with one course, signed in with a socket that records their job pushes."""

    def __init__(self, url: str, name: str, course_code: str = "ALGO1"):
        self.url = url
        self.client = Client(url)
        self.client.signup(name, "a long password", f"{name}@x.io")
        self.pushes: list[tuple[str, dict, float]] = []
        for event in ("job.progress", "job.done", "job.failed"):
            self.client.on(event, lambda data, event=event: self.pushes.append((event, data, time.monotonic())))
        self.client.post("/ws/teachers", {"name": name.title(), "department": "CS"})
        self.course_id = self.client.post("/ws/courses", {"course_name": f"Course {course_code}",
                                                          "course_code": course_code})["id"]

    def upload(self, data: bytes, timeout: float = 30):
        return self.client.http.post(self.url + "/dashboard/courses/import", timeout=timeout,
                                     headers={"Accept": "application/json", "X-CSRFToken": self.client._token()},
                                     data={"course_id": str(self.course_id)},
                                     files={"file": ("students.csv", data, "text/csv")})

    def pushed(self, job_id: str, event: str) -> list[tuple[dict, float]]:
        return [(data, at) for name, data, at in self.pushes if name == event and data.get("id") == job_id]

    def outcome(self, job_id: str, timeout: float = 30) -> tuple[str, dict]:
        """("job.done" or "job.failed", its data) once pushed."""
        ended = wait_until(lambda: [(name, data) for name, data, _ in self.pushes
                                    if name in ("job.done", "job.failed") and data.get("id") == job_id],
                           timeout=timeout)
        assert ended, f"job {job_id} did not end within {timeout} s: {self.pushes[-3:]}"
        return ended[0]

    def close(self) -> None:
        self.client.close()


def student(url: str, name: str, full_name: str, birth_date: str = "2010-04-01") -> None:
    """A user with a student profile of their own."""
    with Client(url, realtime=False) as client:
        client.signup(name, "a long password", f"{name}@x.io")
        client.post("/ws/students", {"name": full_name, "birth_date": birth_date})


def seed_students(database: Path, count: int, prefix: str = "pupil") -> list[str]:
    """`count` students written straight into the server's SQLite database (signing up
    thousands through the site would take minutes); their usernames."""
    names = [f"{prefix}{number:05d}" for number in range(count)]
    with sqlite3.connect(database) as connection:
        start = connection.execute("select coalesce(max(id), 0) from users").fetchone()[0] + 1
        connection.executemany(
            "insert into users (id, username, password_hash, email, created_at) values (?, ?, 'x', ?, ?)",
            [(start + number, name, f"{name}@x.io", "2026-01-01 00:00:00.000000") for number, name in enumerate(names)])
        connection.executemany("insert into students (user_id, name, birth_date) values (?, ?, '2010-01-01')",
                               [(start + number, name.title()) for number, name in enumerate(names)])
    return names


def csv_of(usernames: list[str], name_width: int = 1) -> bytes:
    """A CSV of these users; each name padded to `name_width` characters (to size a file)."""
    return HEADER + b"".join(f"{name},{name.title():<{name_width}},2010-01-01\n".encode() for name in usernames)


def teacher_with_course(server, name="tina"):
    browser = signed_up(server.url, name)
    dashboard = browser.get(server.url + "/dashboard", timeout=10).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', dashboard).group(1)
    browser.headers["X-CSRFToken"] = token
    assert browser.post(server.url + "/ws/teachers", json={"name": "Tina", "department": "CS"},
                        timeout=10).status_code == 201
    course = browser.post(server.url + "/ws/courses", json={"course_name": "Algorithms", "course_code": "ALGO1"},
                          timeout=10)
    assert course.status_code == 201, course.text
    return browser, course.json()["id"]


def upload(browser, server, course_id, data: bytes, filename="students.csv", content_type="text/csv"):
    return browser.post(server.url + "/dashboard/courses/import", timeout=10, headers={"Accept": "application/json"},
                        data={"course_id": str(course_id)}, files={"file": (filename, data, content_type)})


def test_a_bad_upload_gets_a_4xx_saying_why(live_server):
    server = live_server(migrate=True)
    browser, course_id = teacher_with_course(server)
    refused = {
        "type": upload(browser, server, course_id, b"username,name,birth_date\n", "s.png", "image/png"),
        "encoding": upload(browser, server, course_id, "username,name,birth_date\nzoë,Zoë,2010-01-01\n"
                           .encode("latin-1")),
        "size": upload(browser, server, course_id, b"x" * (1024 * 1024 + 1)),
        "course": upload(browser, server, course_id + 99, b"username,name,birth_date\n"),
    }
    assert (refused["type"].status_code, refused["type"].json()["error"]) == (
        415, "The file must be a .csv (text/csv), not image/png.")
    assert refused["encoding"].status_code == 400 and "not UTF-8" in refused["encoding"].json()["error"]
    assert refused["size"].status_code == 413
    assert refused["course"].status_code == 404
    stranger = signed_up(server.url, "sam")
    stranger.headers["Accept"] = "application/json"
    assert upload(stranger, server, course_id, b"username,name,birth_date\n").status_code == 403


def test_teacher_watches_the_import_fill_the_progress_bar(live_server, new_page, tmp_path):
    server = live_server(migrate=True)
    for number in range(40):
        student(server.url, f"pupil{number}", f"Pupil {number}")
    student(server.url, "late", "Late Comer")
    teacher = new_page()
    sign_up(teacher, server.url, "tina")
    teacher.get_by_label("Your name as students see it").fill("Tina Turing")
    teacher.get_by_label("Department").fill("Computing")
    teacher.get_by_role("button", name="Create my teacher profile").click()
    teacher.get_by_label("Course name").fill("Algorithms")
    teacher.get_by_label("Course code").fill("ALGO1")
    teacher.get_by_role("button", name="Create course").click()
    expect(teacher.locator("#live-status")).to_have_text(re.compile("Connected"))
    # Every value the bar takes, as the pushes arrive.
    teacher.evaluate("""() => { window.barValues = [];
        new MutationObserver(() => window.barValues.push(document.getElementById('import-progress').value))
          .observe(document.getElementById('import-progress'), {attributes: true});
        document.addEventListener('live:job.progress', (e) => window.barValues.push(e.detail.percent)); }""")

    good = tmp_path / "students.csv"
    good.write_text("username,name,birth_date\n" + "".join(
        f"pupil{number},Pupil {number},2010-04-{number % 28 + 1:02d}\n" for number in range(40)))
    teacher.get_by_label("CSV file").set_input_files(str(good))
    teacher.get_by_role("button", name="Import students").click()
    expect(teacher.locator("#import-text")).to_have_text("Import into Algorithms: 40 enrolled, 0 already were.",
                                                         timeout=20_000)
    expect(teacher.locator("#import-progress")).to_have_js_property("value", 100)
    values = teacher.evaluate("window.barValues")
    assert len(set(values)) >= 5 and max(values) == 100, values  # it filled step by step
    assert values == sorted(values)

    # A bad row: reported by its line, and nothing of the file is kept.
    bad = tmp_path / "bad.csv"
    bad.write_text("username,name,birth_date\nlate,Late Comer,2010-01-01\nnobody,No One,2010-01-01\n")
    teacher.get_by_label("CSV file").set_input_files(str(bad))
    teacher.get_by_role("button", name="Import students").click()
    expect(teacher.locator("#import-text")).to_have_text("line 3: there is no user 'nobody'", timeout=20_000)
    teacher.reload()
    row = teacher.locator("#teaching tr", has_text="ALGO1")
    expect(row).to_contain_text("Pupil 39")
    assert row.inner_text().count("Pupil") == 40
    expect(row).not_to_contain_text("Late Comer")


def test_the_import_enrols_only_students_and_writes_no_ones_profile(live_server):
    server = live_server(migrate=True)
    student(server.url, "stella", "Stella Student", "2011-05-06")
    with Client(server.url, realtime=False) as nora:  # signed up, no role
        nora.signup("nora", "a long password", "nora@x.io")
    teacher = TeacherClient(server.url, "tina")
    try:
        # A role-less user, even after a real student: reported by line, nothing imported.
        job_id = teacher.upload(b"username,name,birth_date\nstella,Renamed By Teacher,2000-01-01\n"
                                b"nora,Nora Made Student,2000-01-01\n").json()["id"]
        assert teacher.outcome(job_id) == ("job.failed", {
            "id": job_id, "task": "import_students",
            "error": "line 3: 'nora' is not a student (they have no student profile yet)",
            "message": "import_students failed: line 3: 'nora' is not a student (they have no student profile yet)"})
        with Client(server.url, realtime=False) as nora:
            nora.login("nora", "a long password")
            assert nora.get("/ws/school/me") == {"teacher": False, "student": False}
        job_id = teacher.upload(b"username,name,birth_date\nghost,Ghost,2010-01-01\n").json()["id"]
        assert teacher.outcome(job_id)[1]["error"] == "line 2: there is no user 'ghost'"

        # A student is enrolled; their own name and birth date stay theirs.
        job_id = teacher.upload(b"username,name,birth_date\nStella,Renamed By Teacher,2000-01-01\n").json()["id"]
        assert teacher.outcome(job_id)[1]["result"]["enrolled"] == 1
        with Client(server.url, realtime=False) as stella:
            stella.login("stella", "a long password")
            assert [course["id"] for course in stella.get("/ws/me/courses")["learning"]] == [teacher.course_id]
        panel = teacher.client.http.get(server.url + "/dashboard", timeout=10).text
        assert "Stella Student" in panel and "Renamed By Teacher" not in panel
    finally:
        teacher.close()


def test_a_file_over_the_row_limit_is_refused_at_once(live_server):
    server = live_server(migrate=True, FLASK={"CONFIG": {"IMPORT_MAX_ROWS": 50}})
    teacher = TeacherClient(server.url, "tina")
    try:
        refused = teacher.upload(csv_of([f"pupil{number}" for number in range(51)]))
        assert refused.status_code == 413
        assert refused.json() == {"error": "The file has 51 rows; at most 50 can be imported at once."}
        unreadable = teacher.upload(HEADER + b'pupil1,"' + b"x" * 200_000 + b'",2010-01-01\n')
        assert unreadable.status_code == 400 and "not a CSV that can be read" in unreadable.json()["error"]
    finally:
        teacher.close()


def test_the_import_checks_names_and_birth_dates_as_the_forms_do(live_server):
    server = live_server(migrate=True)
    student(server.url, "stella", "Stella Student", "2011-05-06")
    teacher = TeacherClient(server.url, "tina")
    try:
        for row, error in ((b"stella,Stella Student,1850-01-01\n",
                            "line 2: birth_date 1850-01-01: Enter a date between 1900 and today."),
                           (b"stella,Stella Student,2999-01-01\n",
                            "line 2: birth_date 2999-01-01: Enter a date between 1900 and today."),
                           ("stella,Stella \u202eStudent,2011-05-06\n".encode(),
                            "line 2: name: Use letters, digits, spaces and punctuation only (no control or "
                            "invisible characters).")):
            job_id = teacher.upload(HEADER + row).json()["id"]
            assert teacher.outcome(job_id)[1]["error"] == error
    finally:
        teacher.close()
