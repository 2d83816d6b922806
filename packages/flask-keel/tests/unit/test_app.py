"""What a request to a freshly created app gets: pages, errors, ids, logs."""

from __future__ import annotations

import json
import logging

import pytest

from flask_keel import create_app
from flask_keel.config import ConfigError
from flask_keel.testing import csrf_headers


@pytest.fixture
def app(shipped_project, isolated_config):
    isolated_config()
    return create_app()


def test_home_page_renders_the_template(app):
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert "Flask is running" in response.get_data(as_text=True)


def test_missing_page_uses_the_users_404_controller(app):
    response = app.test_client().get("/no/such/page")
    assert response.status_code == 404
    assert "There is no page at <code>/no/such/page</code>" in response.get_data(as_text=True)


def test_missing_endpoint_under_ws_answers_json(app):
    response = app.test_client().get("/ws/nothing")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    assert response.json["request_id"] == response.headers["X-Request-ID"]


def test_an_unhandled_error_gives_the_500_page_without_internals(app, caplog):
    @app.get("/explode")
    def explode():
        raise ValueError("database password is hunter2")

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/explode")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "hunter2" not in body and "Traceback" not in body
    assert response.headers["X-Request-ID"] in body
    assert "hunter2" in caplog.text  # the operator still sees what happened


def test_method_not_allowed_gets_a_clear_json_reason(app):
    client = app.test_client()
    response = client.post("/ws/info", json={}, headers=csrf_headers(client))
    assert response.status_code == 405
    assert response.json["error"] == "method_not_allowed"


def test_settings_read_from_environment_placeholders_are_served_as_json(shipped_project, isolated_config,
                                                                           monkeypatch):
    # The shipped config says APP_NAME: ${APP_NAME:-Flask}: a str subclass msgspec did not encode (a 500).
    monkeypatch.setenv("TEMPLATE_TEST_NAME", "from-env")
    isolated_config(SERVER_ENV={"APP_NAME": "${TEMPLATE_TEST_NAME}", "ENV": "${TEMPLATE_TEST_ENV:-UAT}"})
    response = create_app().test_client().get("/ws/info")
    assert response.status_code == 200
    assert response.json == {"name": "from-env", "env": "UAT"}


def test_incoming_request_id_is_kept_and_a_hostile_one_replaced(app):
    client = app.test_client()
    assert client.get("/healthz", headers={"X-Request-ID": "req-42.a:b"}).headers["X-Request-ID"] == "req-42.a:b"
    replaced = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script> x"}).headers["X-Request-ID"]
    assert len(replaced) == 32 and replaced.isalnum()


def test_every_request_gets_one_access_line_with_its_id(app, caplog):
    with caplog.at_level(logging.INFO, logger="app.access"):
        response = app.test_client().get("/ws/info?x=1", headers={"X-Request-ID": "trace-1"})
    lines = [record for record in caplog.records if record.name == "app.access"]
    assert len(lines) == 1
    assert lines[0].request_id == "trace-1"
    assert '"GET /ws/info?x=1" 200' in lines[0].getMessage()
    assert response.status_code == 200


def test_json_logs_to_a_rotating_file(shipped_project, isolated_config, tmp_path):
    isolated_config(SERVER_ENV={"LOG": {"DIR": f"{tmp_path}/logs", "FORMAT": "json"}})
    app = create_app()
    app.test_client().get("/healthz", headers={"X-Request-ID": "json-line-1"})
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = [json.loads(line) for line in (tmp_path / "logs" / "app.log").read_text().splitlines()]
    access = [line for line in lines if line["logger"] == "app.access"]
    assert access[-1]["request_id"] == "json-line-1"
    assert access[-1]["status"] == 200 and access[-1]["path"] == "/healthz"


def test_dev_key_is_generated_once_and_reused(shipped_project, isolated_config, tmp_path):
    isolated_config()
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    assert first == second and len(first) >= 48
    key_file = tmp_path / "instance" / "dev_app_key"
    assert key_file.read_text().strip() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_production_never_uses_a_generated_key(shipped_project, isolated_config):
    isolated_config(SERVER_ENV={"ENV": "PROD"})
    with pytest.raises(ConfigError, match="APP_KEY: is required when ENV is PROD"):
        create_app()


def test_settings_reach_flask_config(shipped_project, isolated_config):
    isolated_config(SERVER_ENV={"APP_KEY": "k" * 40, "ENV": "PROD"},
                    FLASK={"CONFIG": {"MAX_CONTENT_LENGTH": 1024, "CUSTOM_FLAG": True}})
    app = create_app()
    assert app.config["SECRET_KEY"] == "k" * 40
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 and app.config["CUSTOM_FLAG"] is True

    @app.post("/ws/size")
    def echo():
        from flask import request
        return {"size": len(request.get_data())}

    client = app.test_client()
    headers = csrf_headers(client)
    assert client.post("/ws/size", data=b"x" * 1000, headers=headers).json == {"size": 1000}
    too_big = client.post("/ws/size", data=b"x" * 2048, headers=headers)
    assert too_big.status_code == 413 and too_big.json["error"] == "request_entity_too_large"


def test_file_sessions_persist_between_requests(app):
    @app.get("/count")
    def count():
        from flask import session
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    assert [client.get("/count").data for _ in range(3)] == [b"1", b"2", b"3"]
