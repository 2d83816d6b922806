"""Login, logout, login_required, safe redirects, CSRF and the login rate limit."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from flask_keel import create_app
from flask_keel.testing import ApiClient, project_config, redis_client, redis_entry, run_db

pytestmark = pytest.mark.integration


@pytest.fixture
def app(tmp_path, shipped_project):
    app = create_app(project_config(tmp_path, "sqlite", FLASK={"CONFIG": {"LOGIN_RATE_LIMIT": "100 per minute"}}))
    assert run_db(app, "upgrade").exit_code == 0
    return app


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def web_signup(client, username="webby", password="a long password"):
    token = form_token(client.get("/signup").get_data(as_text=True))
    return client.post("/signup", data={"csrf_token": token, "username": username, "email": f"{username}@x.io",
                                        "password": password, "confirm": password})


def web_login(client, username, password, next_url=None):
    page = client.get("/login", query_string={"next": next_url} if next_url else None)
    return client.post("/login", query_string={"next": next_url} if next_url else None,
                       data={"csrf_token": form_token(page.get_data(as_text=True)), "username": username,
                             "password": password})


def test_signup_page_logs_in_and_logout_ends_it(app):
    client = app.test_client()
    response = web_signup(client)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200 and "Hello, webby" in dashboard.get_data(as_text=True)

    token = re.search(r'name="csrf-token" content="([^"]+)"', dashboard.get_data(as_text=True)).group(1)
    assert client.post("/logout", data={"csrf_token": token}).headers["Location"] == "/"
    assert client.get("/dashboard").status_code == 302


def test_pages_need_a_login_and_remember_where_to_return(app):
    response = app.test_client().get("/dashboard?tab=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/dashboard?tab%3D2"


def test_web_services_answer_401_json(app):
    response = app.test_client().get("/ws/me")
    assert response.status_code == 401
    assert response.json["error"] == "not_logged_in"


@pytest.mark.parametrize(("next_url", "expected"), [
    ("/ws/me?x=1", "/ws/me?x=1"),
    ("https://evil.example/steal", "/dashboard"),
    ("//evil.example", "/dashboard"),
    ("/\\evil.example", "/dashboard"),
    ("javascript:alert(1)", "/dashboard"),
    ("http:/evil.example", "/dashboard"),
])
def test_next_is_followed_only_within_the_site(app, next_url, expected):
    web_signup(app.test_client(), "traveller")
    response = web_login(app.test_client(), "traveller", "a long password", next_url)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_wrong_password_shows_the_error_next_to_the_field(app):
    web_signup(app.test_client(), "forgetful")
    response = web_login(app.test_client(), "forgetful", "not the password")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="password-errors">\s*<li>Wrong username or password.</li>', html)


def test_signup_form_errors_are_shown_per_field(app):
    client = app.test_client()
    token = form_token(client.get("/signup").get_data(as_text=True))
    response = client.post("/signup", data={"csrf_token": token, "username": "a b", "email": "nope",
                                            "password": "short", "confirm": "different"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="username-errors"' in html and "Use letters, digits" in html
    assert 'id="email-errors"' in html and 'id="password-errors"' in html
    assert "The two passwords differ." in html
    assert 'aria-invalid="true"' in html


def test_duplicate_username_on_the_signup_page(app):
    web_signup(app.test_client(), "taken")
    response = web_signup(app.test_client(), "taken")
    assert response.status_code == 400
    assert "This username is taken" in response.get_data(as_text=True)


def test_json_login_without_csrf_token_is_400_with_the_reason(app):
    client = app.test_client()
    ApiClient(app.test_client()).signup("csrfuser")
    missing = client.post("/ws/login", json={"username": "csrfuser", "password": "correct horse battery"})
    assert missing.status_code == 400
    assert missing.json["error"] == "csrf_failed" and missing.json["message"] == "The CSRF token is missing."
    client.get("/ws/csrf")
    forged = client.post("/ws/login", json={"username": "csrfuser", "password": "correct horse battery"},
                         headers={"X-CSRFToken": "forged"})
    assert forged.status_code == 400 and forged.json["message"] == "The CSRF token is invalid."


def test_form_post_without_csrf_token_is_400_page(app):
    response = app.test_client().post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    assert "The CSRF token is missing." in response.get_data(as_text=True)
    assert response.content_type.startswith("text/html")


def test_csrf_token_is_in_a_meta_tag_for_users_and_in_an_endpoint(app):
    visitor = app.test_client().get("/")
    assert 'name="csrf-token"' not in visitor.get_data(as_text=True)  # no session for a visitor's page
    assert "Set-Cookie" not in visitor.headers
    api = ApiClient(app.test_client())
    api.signup("meta")
    html = api.get("/").get_data(as_text=True)
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)
    assert api.get("/ws/csrf").json["csrf_token"] == meta


def test_login_attempts_are_rate_limited_in_redis(tmp_path, shipped_project, redis_server):
    name = f"rl{uuid.uuid4().hex[:8]}"
    config = project_config(tmp_path, "sqlite", SERVER_ENV={"APP_NAME": name},
                           SERVICES={"redis": redis_entry(redis_server)},
                           FLASK={"CONFIG": {"LOGIN_RATE_LIMIT": "3 per minute"}})
    app = create_app(config)
    run_db(app, "upgrade")
    api = ApiClient(app.test_client())
    statuses = [api.post("/ws/login", json={"username": "who", "password": "guess"}).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    blocked = api.post("/ws/login", json={"username": "who", "password": "guess"})
    assert blocked.json["error"] == "too_many_requests" and "Too many login attempts" in blocked.json["message"]
    # The counters are in Redis, where every instance of the app shares them.
    assert redis_client(redis_server).keys(f"LIMITS:LIMITER/{name}:limits:login/*")
    # Other endpoints are not limited.
    assert api.get("/ws/csrf").status_code == 200


def test_full_login_flow_against_gunicorn_with_a_real_http_client(live_server):
    server = live_server(migrate=True)
    browser = requests.Session()
    signup_page = browser.get(server.url + "/signup")
    response = browser.post(server.url + "/signup", allow_redirects=False, data={
        "csrf_token": form_token(signup_page.text), "username": "http_user", "email": "h@x.io",
        "password": "a long password", "confirm": "a long password"})
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert "Hello, http_user" in browser.get(server.url + "/dashboard").text

    api = requests.Session()
    token = api.get(server.url + "/ws/csrf").json()["csrf_token"]
    login = api.post(server.url + "/ws/login", json={"username": "http_user", "password": "a long password"},
                     headers={"X-CSRFToken": token})
    assert login.status_code == 200 and login.json()["user"]["username"] == "http_user"
    assert api.get(server.url + "/ws/me").json()["username"] == "http_user"
    logout = api.post(server.url + "/ws/logout", headers={"X-CSRFToken": login.json()["csrf_token"]})
    assert logout.status_code == 200
    assert api.get(server.url + "/ws/me").status_code == 401


def test_one_session_is_shared_by_two_gunicorn_instances_on_redis(live_server, redis_server, tmp_path):
    shared = {
        "SERVER_ENV": {"SESSION": "redis", "APP_NAME": f"shared{uuid.uuid4().hex[:6]}"},
        "SERVICES": {"redis": redis_entry(redis_server)},
        "DATABASE": {"main": {"driver": "sqlite", "database": str(tmp_path / "shared.sqlite3")}},
    }
    first = live_server(migrate=True, **shared)
    second = live_server(migrate=True, **shared)
    assert first.port != second.port

    client = requests.Session()
    token = client.get(first.url + "/ws/csrf").json()["csrf_token"]
    signup = client.post(first.url + "/ws/signup", headers={"X-CSRFToken": token},
                         json={"username": "roamer", "password": "a long password", "email": "r@x.io"})
    assert signup.status_code == 201
    cookie = client.cookies.get("session")
    other = requests.get(second.url + "/ws/me", cookies={"session": cookie}, timeout=10)
    assert other.status_code == 200 and other.json()["username"] == "roamer"
