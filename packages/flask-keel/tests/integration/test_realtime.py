"""Socket.IO, named requests and server pushes, against a live gunicorn + gevent."""

from __future__ import annotations

import http.client as http_client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from unittest.mock import ANY

import pytest
import requests
import socketio

from flask_keel.client import BadRequest, Client, Forbidden, NotLoggedIn, TransportError, UnknownRequest
from flask_keel.config import load_settings
from flask_keel.realtime import emitter
from flask_keel.testing import redis_entry, wait_until
from tests.conftest import FIXTURE_PROJECT, REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.fixture_project]


def member(url: str, name: str) -> Client:
    client = Client(url)
    client.signup(name, "a long password", f"{name}@notes.test")
    return client


@pytest.fixture
def redis_settings(redis_server):
    """A Redis message queue on the machine's Redis, on a channel of this test's own."""
    return {"SERVER_ENV": {"APP_NAME": f"rt{uuid.uuid4().hex[:8]}"},
            "SERVICES": {"redis": redis_entry(redis_server)}}


def test_named_requests_over_http_and_socket_and_a_push(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    anonymous = Client(server.url)
    assert anonymous.send_request("ping", {"n": 1}) == {"pong": True, "server_time": ANY}  # HTTP, public, no echo
    with pytest.raises(NotLoggedIn):
        anonymous.send_request("echo", {"n": 1})
    with pytest.raises(NotLoggedIn):
        anonymous.send_request("whoami")

    ada, sam = member(server.url, "ada"), member(server.url, "sam")
    assert ada.connected and sam.connected
    pushes = []
    ada.on("shared", pushes.append)

    note = sam.send_request("notes.create", {"title": "Algebra"})
    assert note["title"] == "Algebra" and note["owner_id"] == sam.user["id"]
    assert sam.send_request("notes.share", {"note_id": note["id"], "to": ada.user["id"]}) == {"shared": True}
    assert wait_until(lambda: pushes)
    assert pushes[0]["message"] == "sam shared Algebra."
    assert pushes[0]["note"]["id"] == note["id"]
    # The same view over HTTP gives the same shape.
    assert anonymous.send_request("ping", [1, 2])["pong"] is True
    assert sam.send_request("echo", [1, 2]) == {"echo": [1, 2]}
    # Without the CSRF token, a POST is refused even for a public view: a browser's
    # cookie could otherwise make it run as that user.
    refused = requests.post(server.url + "/ws/ping", json=[1, 2], timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "csrf_failed"


def test_errors_come_back_typed_and_structured(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    sam = member(server.url, "sam")
    with pytest.raises(UnknownRequest) as unknown:
        sam.send_request("no.such.thing")
    assert unknown.value.code == "unknown_request" and unknown.value.status == 404
    with pytest.raises(BadRequest) as bad:
        sam.send_request("notes.share", {"note_id": "three", "to": 1})
    assert bad.value.field == "note_id" and bad.value.code == "invalid_payload"
    note = sam.send_request("notes.create", {"title": "Mine"})
    with pytest.raises(Forbidden):
        sam.send_request("notes.share", {"note_id": note["id"], "to": sam.user["id"]})
    assert sam.send_request("ping")["pong"] is True  # the connection is still fine


def refusal(http_session=None, auth=None, url="") -> str | None:
    """Connect a bare Socket.IO client; the server's reason if it refuses, else None."""
    raw = socketio.Client(reconnection=False, **({"http_session": http_session} if http_session else {}))
    reasons = []
    raw.on("connect_error", handler=lambda data: reasons.append(data.get("message") if isinstance(data, dict)
                                                                 else data))
    try:
        raw.connect(url, auth=auth, transports=["websocket"], wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        return reasons[0] if reasons else "refused"
    raw.disconnect()
    return None


def test_a_socket_needs_a_login_and_the_csrf_token(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    assert refusal(url=server.url) == "not logged in"

    ada = member(server.url, "ada")
    assert refusal(ada.http, None, server.url).startswith("bad CSRF token")
    assert refusal(ada.http, {"csrf_token": "forged"}, server.url).startswith("bad CSRF token")
    assert refusal(ada.http, {"csrf_token": ada._csrf_token}, server.url) is None
    assert ada.send_request("whoami")["username"] == "ada"


def test_the_client_reports_why_its_socket_was_refused(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    ada = member(server.url, "ada")
    ada._csrf_token = "stale"
    with pytest.raises(TransportError, match="the socket was refused: bad CSRF token"):
        ada._reconnect_socket()


def test_push_from_a_cli_command_and_from_another_process(live_server, redis_settings, tmp_path):
    server = live_server(migrate=True, project=FIXTURE_PROJECT, **redis_settings)
    ada = member(server.url, "ada")
    received = []
    ada.on("note", received.append)
    config = server.log_path.parent / "config-0.yml"

    result = subprocess.run([sys.executable, "-m", "app", "realtime", "notify", "--user", str(ada.user["id"]),
                             "note", json.dumps({"from": "cli"})], cwd=REPO_ROOT, capture_output=True, text=True,
                            env={**os.environ, "APP_CONFIG": str(config)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: {"from": "cli"} in received)

    emitter(load_settings(config)).notify(ada.user["id"], "note", {"from": "worker"})
    assert wait_until(lambda: {"from": "worker"} in received)
    assert len(received) == 2  # nobody else's pushes, no duplicates


def test_cli_push_without_redis_says_what_is_missing(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    config = server.log_path.parent / "config-0.yml"
    result = subprocess.run([sys.executable, "-m", "app", "realtime", "notify", "note"], cwd=REPO_ROOT,
                            capture_output=True, text=True, env={**os.environ, "APP_CONFIG": str(config)},
                            timeout=60)
    assert result.returncode == 1
    assert "needs SERVICES.redis" in result.stderr


def test_an_event_crosses_instances_through_redis(live_server, redis_settings, tmp_path):
    shared = {**redis_settings, "SERVER_ENV": {**redis_settings["SERVER_ENV"], "SESSION": "redis"},
              "DATABASE": {"main": {"driver": "sqlite", "database": str(tmp_path / "shared.sqlite3")}}}
    first = live_server(migrate=True, project=FIXTURE_PROJECT, **shared)
    second = live_server(migrate=True, project=FIXTURE_PROJECT, **shared)
    ada = member(first.url, "ada")        # connected to the first instance
    sam = member(second.url, "sam")       # connected to the second
    pushes = []
    ada.on("shared", pushes.append)
    note = sam.send_request("notes.create", {"title": "Networks"})
    sam.send_request("notes.share", {"note_id": note["id"], "to": ada.user["id"]})  # handled by the second
    assert wait_until(lambda: pushes)
    assert pushes[0]["note"]["title"] == "Networks"


def test_200_clients_make_requests_and_all_receive_a_broadcast(live_server, redis_settings):
    server = live_server(migrate=True, project=FIXTURE_PROJECT, **redis_settings)
    logins = [member(server.url, f"user{index}") for index in range(20)]
    clients = [login.clone() for login in logins for _ in range(10)]
    assert len(clients) == 200 and all(client.connected for client in clients)

    errors: list[BaseException] = []
    results: dict[int, object] = {}

    def call(index: int, client: Client) -> None:
        try:
            results[index] = client.send_request("echo", {"i": index})["echo"]["i"]
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(index, client)) for index, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and results == {index: index for index in range(200)}

    got = [0] * 200
    for index, client in enumerate(clients):
        client.on("announcement", lambda data, index=index: got.__setitem__(index, got[index] + 1))
    emitter(load_settings(server.log_path.parent / "config-0.yml")).broadcast("announcement", {"text": "hi"})
    assert wait_until(lambda: all(got), timeout=15), f"{got.count(0)} clients missed the broadcast"
    time.sleep(0.3)
    assert set(got) == {1}
    for client in clients + logins:
        client.close()


def test_malformed_and_oversized_messages_are_refused_and_others_are_served(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT,
                         FLASK={"CONFIG": {"SOCKETIO_MAX_MESSAGE_SIZE": 65536, "MAX_CONTENT_LENGTH": 65536}})
    ada = member(server.url, "ada")
    bystander = ada.clone()
    for message, expected in [("just a string", 400), ({"name": 5}, 400), ({"payload": 1}, 400),
                              ({"name": "ping", "payload": {"deep": [[[[["ok"]]]]]}}, None)]:
        answer = ada.sio.call("rpc", message, timeout=10)
        if expected is None:
            assert answer["ok"] is True
        else:
            assert answer == {**answer, "ok": False, "status": expected, "error": "bad_request"}

    before = ada.sio.eio.sid
    ada.sio.emit("rpc", {"name": "ping", "payload": "x" * 200_000})  # over the cap: the server drops this socket
    # Dropped, or already reconnected (a new session id): the client reconnects by itself.
    assert wait_until(lambda: not ada.sio.connected or ada.sio.eio.state != "connected"
                      or ada.sio.eio.sid != before, timeout=10)
    assert bystander.send_request("echo", {"still": "here"})["echo"] == {"still": "here"}

    http = bystander.http
    token = bystander._csrf_token
    broken = http.post(server.url + "/ws/ping", data=b"{nope", headers={"X-CSRFToken": token,
                                                                         "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"] == "invalid_payload"
    # Declared too large: refused before the body is read. (Sending a large body and
    # reading the early 413 races with the server closing the half-read connection.)
    connection = http_client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("POST", "/ws/ping")
    for name, value in [("Content-Type", "application/json"), ("Content-Length", "10000000"),
                        ("X-CSRFToken", token), ("Cookie", f"session={http.cookies.get('session')}")]:
        connection.putheader(name, value)
    connection.endheaders()
    huge = connection.getresponse()
    assert huge.status == 413 and json.loads(huge.read())["error"] == "request_entity_too_large"
    connection.close()
    assert bystander.send_request("ping")["pong"] is True


def test_one_client_is_safe_across_threads(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    client = member(server.url, "threads")
    failures = []

    def work(offset: int) -> None:
        for index in range(20):
            try:
                assert client.send_request("echo", offset + index)["echo"] == offset + index
            except BaseException as exc:  # noqa: BLE001
                failures.append(exc)

    threads = [threading.Thread(target=work, args=(offset * 100,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


def test_the_client_reconnects_after_a_server_restart(live_server):
    server = live_server(migrate=True, project=FIXTURE_PROJECT)
    ada = member(server.url, "ada")
    assert server.stop() == 0
    assert wait_until(lambda: not ada.connected, timeout=10)
    with pytest.raises(TransportError):
        ada.send_request("whoami")
    restarted = live_server(port=server.port, project=FIXTURE_PROJECT, migrate=True,
                            SERVER_ENV={"INSTANCE_PATH": str(server.log_path.parent / "instance")})
    assert restarted.port == server.port
    assert wait_until(lambda: ada.connected, timeout=15), "the client did not reconnect"
    assert ada.send_request("whoami")["username"] == "ada"
