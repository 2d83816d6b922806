"""MySQL 8.4's default login (caching_sha2_password) without TLS, against a fake MySQL
8.4 server (tests/fake_mysql.py): `cryptography` completes it, and a login the
database refuses, or the driver cannot complete, is a 503 that names the cause."""

from __future__ import annotations

import pymysql
import pytest

from tests.fake_mysql import FakeMySQL

pytestmark = pytest.mark.integration

BLOCK_CRYPTOGRAPHY = '''
import sys

class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == "cryptography" or name.startswith("cryptography."):
            raise ImportError("cryptography is hidden for this test")

sys.meta_path.insert(0, _Blocked())
'''


def fake_database(port: int, password: str) -> dict:
    return {"main": {"driver": "mysql+pymysql", "address": "127.0.0.1", "port": port, "user": "app",
                     "password": password, "database": "app", "models": None}}


def log_in(server):
    """A request that reads the database: a login (the account lookup)."""
    token = server.get("/ws/csrf").json()["csrf_token"]
    return server.session.post(server.url + "/ws/login", headers={"X-CSRFToken": token}, timeout=10,
                               json={"username": "someone", "password": "a long password"})


def test_the_lock_has_cryptography_and_it_completes_a_mysql8_login_without_tls():
    with FakeMySQL("the right password") as server:
        connection = pymysql.connect(host="127.0.0.1", port=server.port, user="app", password="the right password",
                                     connect_timeout=5)
        connection.close()
        assert server.attempts == ["accepted"]


def test_a_refused_login_is_a_503_that_names_the_cause(live_server):
    with FakeMySQL("the right password") as server:
        app = live_server(DATABASE=fake_database(server.port, "a wrong password"))
        response = log_in(app)
        assert response.status_code == 503 and response.json()["error"] == "database_unavailable"
        assert response.headers["Retry-After"]
        assert app.get("/readyz").status_code == 503
        assert "refused" in server.attempts
        log = app.log()
        assert "database is unavailable" in log and "Access denied for user 'app'" in log
        assert "Traceback" not in log


def test_a_login_the_driver_cannot_complete_is_a_503_too(live_server, tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(BLOCK_CRYPTOGRAPHY)
    with FakeMySQL("the right password") as server:
        app = live_server(env={"PYTHONPATH": str(shim)}, DATABASE=fake_database(server.port, "the right password"))
        response = log_in(app)
        assert response.status_code == 503 and response.json()["error"] == "database_unavailable"
        log = app.log()
        assert "'cryptography' package is required" in log and "Traceback" not in log
