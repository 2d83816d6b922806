"""Server-side sessions on each store: where they live, when they are written,
how their id changes at login, and what they never decode."""

from __future__ import annotations

import pickle
import uuid

import pytest
import redis
from pymemcache.client.base import Client as MemcacheClient

from flask_keel import create_app
from flask_keel.sessions.serializers import MsgpackFileSystemCache
from flask_keel.testing import ApiClient, project_config, redis_entry, run_db

pytestmark = pytest.mark.integration


def app_for(tmp_path, backend: str, services: dict, **server):
    name = f"t{uuid.uuid4().hex[:10]}"  # its own key prefix in the shared Redis/memcached
    config = project_config(tmp_path, "sqlite", SERVER_ENV={"SESSION": backend, "APP_NAME": name, **server},
                           SERVICES=services)
    app = create_app(config)
    assert run_db(app, "upgrade").exit_code == 0
    return app


class Store:
    """Reads a session straight from the store the app writes to."""

    def __init__(self, app, backend: str, services: dict):
        self.prefix = app.config["SESSION_KEY_PREFIX"]
        self.backend = backend
        if backend == "redis":
            self.client = redis.Redis(port=services["redis"]["PORT"], db=services["redis"].get("DB", 0))
        elif backend == "memcached":
            self.client = MemcacheClient(("127.0.0.1", services["memcached"]["PORT"]))
        else:
            self.client = MsgpackFileSystemCache(services["filesystem"]["PATH"])

    def has(self, sid: str) -> bool:
        return self.client.get(self.prefix + sid) is not None


@pytest.fixture(params=["filesystem", "redis", "memcached"])
def backend(request, tmp_path):
    kind = request.param
    services = {"filesystem": {"PATH": str(tmp_path / "sessions")}}
    if kind == "redis":
        services["redis"] = redis_entry(request.getfixturevalue("redis_server"))
    if kind == "memcached":
        services["memcached"] = {"HOST": "127.0.0.1", "PORT": request.getfixturevalue("memcached_server")[1]}
    app = app_for(tmp_path, kind, services)
    return app, Store(app, kind, services)


def sid(client) -> str:
    return client.get_cookie("session").value


def test_login_stores_the_session_and_logout_deletes_it(backend):
    app, store = backend
    api = ApiClient(app.test_client())
    api.signup("stored")
    session_id = sid(api.client)
    assert store.has(session_id)
    assert api.get("/ws/me").json["username"] == "stored"

    assert api.post("/ws/logout").status_code == 200
    assert not store.has(session_id)
    assert api.client.get_cookie("session") is None
    assert api.get("/ws/me").status_code == 401


def test_only_responses_that_read_the_session_vary_on_cookie(tmp_path):
    """A shared cache may keep one copy of a response that never read the session (a
    visitor's JSON, a static file) for everyone; a page that read a user's session varies."""
    app = app_for(tmp_path, "filesystem", {"filesystem": {"PATH": str(tmp_path / "sessions")}})
    api = ApiClient(app.test_client())
    api.signup("varied")
    for path in ("/ws/info", "/static/css/app.css", "/healthz"):
        response = api.get(path)
        assert response.status_code == 200, path
        assert "Vary" not in response.headers and "no-store" not in response.headers.get("Cache-Control", ""), path
    for path in ("/ws/me", "/dashboard"):
        response = api.get(path)
        assert response.status_code == 200, path
        assert "Cookie" in response.headers["Vary"] and response.headers["Cache-Control"] == "private, no-store", path


def test_session_id_changes_at_login(backend):
    app, store = backend
    ApiClient(app.test_client()).signup("rotator", password="a long password")

    api = ApiClient(app.test_client())  # a visitor's CSRF token: a signed cookie, nothing stored
    assert api.client.get_cookie("session") is None and api.client.get_cookie("session_anon") is not None
    credentials = {"username": "rotator", "password": "a long password"}
    assert api.post("/ws/login", json=credentials).status_code == 200
    before = sid(api.client)
    assert store.has(before)
    assert api.client.get_cookie("session_anon") is None  # the visitor's cookie goes at login

    response = api.post("/ws/login", json=credentials)  # logging in again, over a login
    assert response.status_code == 200
    after = sid(api.client)
    assert after != before
    assert not store.has(before) and store.has(after)

    # Whoever kept the old id (a planted cookie) is not logged in.
    planted = app.test_client()
    planted.set_cookie("session", before)
    assert planted.get("/ws/me").status_code == 401


def test_a_session_memcached_refuses_to_store_is_a_503_not_a_false_success(tmp_path, memcached_server):
    app = app_for(tmp_path, "memcached", {"memcached": {"HOST": "127.0.0.1", "PORT": memcached_server[1]}})

    @app.get("/too-big")
    def too_big():
        from flask import session

        session["blob"] = "x" * 2_000_000  # over memcached's 1 MB item limit
        return "stored"

    api = ApiClient(app.test_client())
    api.signup("hoarder")  # only a signed-in session goes to the store
    response = api.get("/too-big")
    assert response.status_code == 503
    assert b"stored" not in response.data


def test_cookie_is_httponly_and_samesite_lax(backend):
    app, _ = backend
    response = app.test_client().get("/ws/csrf")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_cookie_is_secure_in_production(tmp_path, shipped_project):
    app = app_for(tmp_path, "filesystem", {"filesystem": {"PATH": str(tmp_path / "s")}}, ENV="PROD",
                  APP_KEY="p" * 48)
    assert "Secure" in app.test_client().get("/ws/csrf").headers["Set-Cookie"]


def test_an_authenticated_request_reads_the_store_once_and_never_writes(tmp_path, private_server):
    server = private_server("redis")
    app = app_for(tmp_path, "redis", {"redis": server.service()})
    api = ApiClient(app.test_client())
    api.signup("reader")
    spy = redis.Redis(port=server.port)
    spy.config_resetstat()
    for _ in range(5):
        assert api.get("/ws/me").status_code == 200
    stats = spy.info("commandstats")
    writes = {name: stats[name]["calls"] for name in stats if name in (
        "cmdstat_set", "cmdstat_setex", "cmdstat_psetex", "cmdstat_del", "cmdstat_expire")}
    assert writes == {}
    assert stats["cmdstat_get"]["calls"] == 5


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_planted_in_the_store_is_never_loaded(tmp_path, private_server):
    server = private_server("redis")
    app = app_for(tmp_path, "redis", {"redis": server.service()})
    marker = tmp_path / "pwned"
    planted_sid = "planted-session-id"
    redis.Redis(port=server.port).set(app.config["SESSION_KEY_PREFIX"] + planted_sid,
                                      pickle.dumps({"_user_id": "1", "x": _Exploit(str(marker))}))
    client = app.test_client()
    client.set_cookie("session", planted_sid)
    response = client.get("/ws/me")
    assert response.status_code == 401
    assert not marker.exists()
