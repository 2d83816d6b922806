"""The school demo in a real browser: a teacher sees a student's enrolment arrive live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from flask_keel.testing.browser import sign_up

pytestmark = pytest.mark.integration


def test_teacher_sees_a_students_enrolment_live(live_server, new_page):
    server = live_server(migrate=True)
    teacher = new_page()
    sign_up(teacher, server.url, "tina")
    teacher.get_by_label("Your name as students see it").fill("Tina Turing")
    teacher.get_by_label("Department").fill("Computing")
    teacher.get_by_role("button", name="Create my teacher profile").click()
    expect(teacher.get_by_text("You can now create courses.")).to_be_visible()

    # A bad value is shown next to its field, and nothing is created.
    teacher.get_by_label("Course name").fill("Algorithms")
    teacher.get_by_label("Course code").fill("has spaces")
    teacher.get_by_role("button", name="Create course").click()
    expect(teacher.locator("#course-course_code-errors")).to_have_text("Use only letters, digits, - and _.")
    expect(teacher.get_by_label("Course code")).to_have_attribute("aria-invalid", "true")
    teacher.get_by_label("Course code").fill("ALGO1")
    teacher.get_by_role("button", name="Create course").click()
    expect(teacher.get_by_text("Course Algorithms created.")).to_be_visible()
    row = teacher.locator("#teaching tr", has_text="ALGO1")
    expect(row).to_contain_text("none yet")
    expect(teacher.locator("#live-status")).to_have_text(re.compile("Connected"))

    student = new_page(viewport={"width": 390, "height": 844})  # a phone
    sign_up(student, server.url, "sam")
    student.get_by_label("Your name as teachers see it").fill("Sam Student")
    student.get_by_label("Date of birth").fill("2010-04-01")
    student.get_by_role("button", name="Create my student profile").click()
    student.get_by_label("Course", exact=True).select_option(label="Algorithms (ALGO1) with Tina Turing")
    student.get_by_role("button", name="Enrol").click()
    expect(student.get_by_text("You are enrolled in Algorithms.")).to_be_visible()
    expect(student.locator("#learning")).to_contain_text("Algorithms")

    # The teacher's page, untouched since, shows the push.
    expect(teacher.locator("#live-events li")).to_have_count(1)
    expect(teacher.locator("#live-events")).to_contain_text("Sam Student enrolled in your course Algorithms.")
    expect(row).to_contain_text("Sam Student")

    teacher.get_by_role("button", name="Log out").click()
    expect(teacher.get_by_text("You are signed out.")).to_be_visible()
    teacher.goto(server.url + "/dashboard")
    expect(teacher).to_have_url(re.compile(r"/login\?next=/dashboard$"))
