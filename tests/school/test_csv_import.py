"""The CSV import of students, a background job: in a real browser (the progress bar
fills and the result appears without a reload), and its refusals over HTTP."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from flask_keel.testing import signed_up
from flask_keel.testing.browser import sign_up

pytestmark = pytest.mark.integration


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
        signed_up(server.url, f"pupil{number}")
    signed_up(server.url, "late")
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
