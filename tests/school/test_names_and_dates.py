"""Names other people see and birth dates are checked the same way on every path (the
JSON API, named requests over HTTP and the socket, the dashboard's forms), against a
real gunicorn: no control, bidi-override or zero-width character in a name, one range
of birth dates (1900 to today)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from flask_keel.client import BadRequest, Client

pytestmark = pytest.mark.integration

# NUL, ESC, a right-to-left override, a zero-width space and joiner, a BOM, a newline at the end.
HIDDEN = ["Alg\x00ebra", "Alg\x1b[31mebra", "Alge\u202ebra", "Alge\u200bbra", "Alge\u200dbra", "\ufeffAlgebra",
          "Algebra\n"]
FINE = ["Algèbra Ⅱ", "Ελληνικά", "日本語の授業", "Señora O'Brien-Smith"]


def form_post(client: Client, path: str, prefix: str, fields: dict[str, str]):
    """Post a dashboard form as a browser does (its CSRF token from the page); the response, not followed."""
    page = client.http.get(client.url + "/dashboard", timeout=10).text
    token = re.search(rf'name="{prefix}-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = {f"{prefix}-csrf_token": token, **{f"{prefix}-{name}": value for name, value in fields.items()}}
    return client.http.post(client.url + path, data=data, timeout=10, allow_redirects=False)


def refused_everywhere(client: Client, name: str, payload: dict, field: str) -> None:
    """The named request over the socket and over HTTP both answer 400 naming `field`."""
    for transport in ("socket", "http"):
        with pytest.raises(BadRequest) as refused:
            if transport == "socket":
                client.send_request(name, payload)
            else:
                client.post(f"/ws/{name}", payload)
        assert refused.value.field == field, (transport, name, payload, refused.value)


def test_names_refuse_control_bidi_and_zero_width_characters_on_every_path(live_server):
    server = live_server(migrate=True)
    tess = Client(server.url)
    tess.signup("tess", "a long password", "tess@x.io")
    for bad in HIDDEN:
        refused_everywhere(tess, "teachers.create", {"name": bad, "department": "Maths"}, "name")
        refused_everywhere(tess, "teachers.create", {"name": "Tess", "department": bad}, "department")
        form = form_post(tess, "/dashboard/teacher", "teacher", {"name": bad, "department": "Maths"})
        assert form.status_code == 400 and "no control or invisible characters" in form.text, bad
    assert tess.get("/ws/school/me")["teacher"] is False  # nothing was stored
    assert form_post(tess, "/dashboard/teacher", "teacher", {"name": "Tess", "department": "Maths"}).status_code == 302

    for bad in HIDDEN:
        refused_everywhere(tess, "courses.create", {"course_name": bad, "course_code": "ALG"}, "course_name")
        with pytest.raises(BadRequest) as refused:
            tess.post("/ws/courses", {"course_name": bad, "course_code": "ALG"})
        assert refused.value.field == "course_name"
        form = form_post(tess, "/dashboard/courses", "course", {"course_name": bad, "course_code": "ALG"})
        assert form.status_code == 400 and "no control or invisible characters" in form.text, bad
    assert tess.get("/ws/courses") == []

    created = [tess.send_request("courses.create", {"course_name": name, "course_code": f"OK{index}"})
               for index, name in enumerate(FINE)]
    assert [course["course_name"] for course in created] == FINE
    with pytest.raises(BadRequest) as renamed:
        tess.patch(f"/ws/courses/{created[0]['id']}", {"course_name": "Alge\u202ebra"})
    assert renamed.value.field == "course_name"
    with pytest.raises(BadRequest):
        tess.patch("/ws/courses", {"where": {"course_codes": ["OK0"]}, "set": {"course_name": "A\x00"}})
    assert [course["course_name"] for course in tess.get("/ws/courses")] == FINE

    sam = Client(server.url)
    sam.signup("sam", "a long password", "sam@x.io")
    refused_everywhere(sam, "students.create", {"name": "S\u202eam", "birth_date": "2001-01-01"}, "name")
    form = form_post(sam, "/dashboard/student", "student", {"name": "S\x1bam", "birth_date": "2001-01-01"})
    assert form.status_code == 400 and "no control or invisible characters" in form.text


def test_one_range_of_birth_dates_on_every_path(live_server):
    server = live_server(migrate=True)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    for index, (when, accepted) in enumerate([("1899-12-31", False), (tomorrow, False), ("1800-01-01", False),
                                              ("1900-01-01", True), (date.today().isoformat(), True)]):
        results = []
        for path in ("socket", "http", "named-http", "form"):
            client = Client(server.url, realtime=path == "socket")
            client.signup(f"d{index}{path.replace('-', '')}", "a long password", f"d{index}{path}@x.io")
            payload = {"name": "Sam", "birth_date": when}
            if path == "form":
                status = form_post(client, "/dashboard/student", "student", payload).status_code
                results.append(status == 302)
                if status != 302:
                    page = client.http.get(client.url + "/dashboard", timeout=10)
                    assert page.status_code == 200
                continue
            try:
                if path == "http":
                    client.post("/ws/students", payload)
                else:
                    client.send_request("students.create", payload)
                results.append(True)
            except BadRequest as refused:
                assert refused.field == "birth_date" and "between 1900 and today" in str(refused), refused
                results.append(False)
            assert client.get("/ws/school/me")["student"] is results[-1]
            client.close()
        assert results == [accepted] * 4, (when, results)
