"""A visitor's path through the app, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.integration


def sign_up(page, url, username):
    page.goto(url + "/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@school.test")
    page.get_by_label("Password", exact=True).fill("a long password")
    page.get_by_label("Repeat the password").fill("a long password")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(url + "/dashboard")
    expect(page.get_by_role("heading", name=f"Hello, {username}")).to_be_visible()


def test_teacher_sees_a_students_enrolment_live(live_server, new_page):
    server = live_server(migrate=True)
    teacher = new_page()
    sign_up(teacher, server.url, "tina")
    teacher.get_by_label("Your name as teachers see it").fill("Tina Turing")
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
    student.get_by_label("Your name as students see it").fill("Sam Student")
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


def test_forms_work_with_the_keyboard_alone(live_server, new_page):
    server = live_server(migrate=True)
    page = new_page()
    page.goto(server.url + "/login")
    page.get_by_label("Username").focus()
    page.keyboard.type("nobody")
    page.keyboard.press("Tab")
    page.keyboard.type("wrong password")
    page.keyboard.press("Enter")
    expect(page.locator("#password-errors")).to_have_text("Wrong username or password.")


def test_missing_page_and_every_input_is_labelled(live_server, new_page):
    server = live_server(migrate=True)
    page = new_page()
    response = page.goto(server.url + "/no/such/page")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.goto(server.url + "/signup")
    for field in page.locator("input:not([type=hidden]), select").all():
        field_id = field.get_attribute("id")
        assert page.locator(f'label[for="{field_id}"]').count() == 1, field_id
