"""Named requests in-process: a failing view, return types, HTTP and socket alike."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from flask_keel import create_app
from flask_keel.realtime import socketio_of
from flask_keel.rpc import public, router
from flask_keel.testing import ApiClient, project_config, run_db

pytestmark = [pytest.mark.integration, pytest.mark.fixture_project]


@dataclasses.dataclass
class Point:
    x: int
    when: date


class WithToDict:
    def to_dict(self):
        return {"converted": True}


@pytest.fixture
def app(tmp_path, fixture_project):
    app = create_app(project_config(tmp_path, "sqlite"))
    assert run_db(app, "upgrade").exit_code == 0

    def explode(request):
        raise RuntimeError("secret internals: password=hunter2")

    @public
    def types(request):
        return {"point": Point(1, date(2026, 1, 2)), "money": Decimal("12.50"),
                "id": UUID("12345678-1234-5678-1234-567812345678"),
                "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "model": WithToDict(), "tags": {"b", "a"}}

    router(app).map({"explode": explode, "types": types})
    return app


@pytest.fixture
def logged_in(app):
    api = ApiClient(app.test_client())
    api.signup("tester")
    return api


def socket_client(app, api):
    token = api.get("/ws/csrf").json["csrf_token"]
    return socketio_of(app).test_client(app, flask_test_client=api.client, auth={"csrf_token": token})


def test_a_view_that_raises_is_500_with_a_request_id_and_the_app_goes_on(app, logged_in, caplog):
    with caplog.at_level(logging.ERROR):
        response = logged_in.post("/ws/explode", json={})
    assert response.status_code == 500
    assert response.json["error"] == "internal_server_error" and response.json["request_id"]
    assert "hunter2" not in response.get_data(as_text=True)
    assert "hunter2" in caplog.text

    sock = socket_client(app, logged_in)
    assert sock.is_connected()
    answer = sock.emit("rpc", {"name": "explode"}, callback=True)
    assert answer["ok"] is False and answer["status"] == 500 and answer["request_id"]
    assert "hunter2" not in str(answer)
    assert sock.emit("rpc", {"name": "echo", "payload": 1}, callback=True)["result"]["echo"] == 1
    assert logged_in.post("/ws/echo", json=2).json["echo"] == 2


def test_any_json_able_value_comes_back_the_same_over_http_and_socket(app, logged_in):
    expected = {"point": {"x": 1, "when": "2026-01-02"}, "money": "12.50",
                "id": "12345678-1234-5678-1234-567812345678", "at": "2026-01-02T03:04:05Z",
                "model": {"converted": True}, "tags": ["a", "b"]}
    over_http = logged_in.post("/ws/types", json=None).json
    sock = socket_client(app, logged_in)
    over_socket = sock.emit("rpc", {"name": "types"}, callback=True)
    assert over_socket["ok"] is True
    for result in (over_http, over_socket["result"]):
        result["tags"].sort()  # a set has no order
        assert result == expected


def test_socket_connect_is_refused_without_login(app):
    anonymous = socketio_of(app).test_client(app, flask_test_client=app.test_client())
    assert not anonymous.is_connected()


def test_database_errors_map_the_same_over_the_socket(app, logged_in):
    sock = socket_client(app, logged_in)
    payload = {"title": "Once"}
    assert sock.emit("rpc", {"name": "notes.create", "payload": payload}, callback=True)["ok"] is True
    duplicate = sock.emit("rpc", {"name": "notes.create", "payload": payload}, callback=True)
    assert duplicate["ok"] is False and duplicate["status"] == 409
    assert duplicate["error"] == "duplicate" and duplicate["field"] == "title"
