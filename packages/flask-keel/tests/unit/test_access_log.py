"""The access line: written at once when the worker is idle, within half a second when busy."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time

import pytest
from werkzeug.test import EnvironBuilder

from flask_keel import access_log, create_app
from flask_keel.access_log import RequestLog, _queue
from flask_keel.testing import wait_until


@pytest.fixture
def app(shipped_project, isolated_config):
    isolated_config()
    return create_app()


def access_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "app.access"]


@pytest.fixture(autouse=True)
def slow_flush(monkeypatch):
    """A 2 s batch window: a test's own requests end well inside it even on a loaded machine."""
    monkeypatch.setattr(access_log, "FLUSH_AFTER_SECONDS", 2.0)
    yield
    _queue.flush()
    assert _queue.in_flight == 0, "a test left a request counted as in flight"


@pytest.fixture
def another_request_in_flight():
    _queue.started()
    try:
        yield
    finally:
        _queue.finished(None, counted=True)


def test_a_line_waits_while_another_request_is_served_then_appears_within_the_window(
        app, caplog, another_request_in_flight):
    with caplog.at_level(logging.INFO, logger="app.access"):
        app.test_client().get("/ws/info", headers={"X-Request-ID": "busy-1"})
        assert access_lines(caplog) == []
        assert wait_until(lambda: access_lines(caplog), timeout=access_log.FLUSH_AFTER_SECONDS * 4)
    (line,) = access_lines(caplog)
    assert line.request_id == "busy-1" and line.status == 200 and '"GET /ws/info" 200' in line.getMessage()


def test_queued_lines_are_written_when_the_last_request_in_flight_ends(app, caplog):
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="app.access"):
        _queue.started()
        try:
            client.get("/healthz", headers={"X-Request-ID": "queued-1"})
            client.get("/healthz", headers={"X-Request-ID": "queued-2"})
            assert access_lines(caplog) == []
        finally:
            _queue.finished(None, counted=True)
        assert [line.request_id for line in access_lines(caplog)] == ["queued-1", "queued-2"]


def test_under_an_event_loop_the_lines_of_a_turn_are_written_together_after_it(app, caplog, monkeypatch):
    """Under gevent a request served without waiting is never in flight beside another: the
    batch is the loop's turn, flushed by one greenlet started when the turn's first line came."""
    started: list = []
    monkeypatch.setattr(_queue, "flush_after_turn", started.append)
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="app.access"):
        for number in (1, 2, 3):
            client.get("/healthz", headers={"X-Request-ID": f"turn-{number}"})
        assert access_lines(caplog) == [] and started == [_queue.flush]
        started[0]()  # the turn is over
        assert [line.request_id for line in access_lines(caplog)] == ["turn-1", "turn-2", "turn-3"]
        client.get("/healthz", headers={"X-Request-ID": "turn-4"})
        assert len(started) == 2  # the next turn's lines get a flush of their own


def test_the_flush_timer_is_never_started_under_the_queues_lock(app, monkeypatch):
    """Starting a thread may switch greenlets; under the lock every request would wait behind it."""
    held_at_start = []

    class Timer(threading.Timer):
        def start(self):
            held_at_start.append(_queue.lock.locked())
            super().start()

    monkeypatch.setattr(access_log.threading, "Timer", Timer)
    _queue.started()
    try:
        app.test_client().get("/healthz")
    finally:
        _queue.finished(None, counted=True)
    assert held_at_start == [False]


GEVENT_TURNS = """
from gevent import monkey; monkey.patch_all()
import io, json, logging, socket, time
import gevent
from flask_keel import access_log

class Stream(io.StringIO):
    writes = []
    def write(self, text):
        self.writes.append((time.monotonic(), text.count("GET /x")))
        return len(text)

logging.getLogger().addHandler(logging.StreamHandler(Stream()))
logging.getLogger().setLevel(logging.INFO)
access_log._queue.flush_after_turn = access_log._gevent_flush_after_turn()

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"hi"]

logged = access_log.RequestLog(hello, "/socket.io")
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1"}

def connection(sock):
    while sock.recv(1):  # one request per byte, as a keep-alive connection would
        logged(dict(environ), lambda status, headers, exc_info=None: None)

pairs = [socket.socketpair() for _ in range(5)]
for ours, theirs in pairs:
    gevent.spawn(connection, ours)
gevent.sleep(0.01)
for ours, theirs in pairs:  # five requests ready in one turn
    theirs.send(b"x")
sent = time.monotonic()
gevent.sleep(0.1)
pairs[0][1].send(b"x")  # one more, alone in its turn
gevent.sleep(0.1)
print(json.dumps({"lines_per_write": [lines for at, lines in Stream.writes],
                  "first_write_after": Stream.writes[0][0] - sent}))
"""


def test_under_gevent_the_requests_ready_in_one_turn_are_logged_in_one_write_at_once():
    output = json.loads(subprocess.run([sys.executable, "-c", GEVENT_TURNS], capture_output=True, text=True,
                                       check=True, timeout=60).stdout)
    assert output["lines_per_write"] == [5, 1]
    assert output["first_write_after"] < 0.05  # within the turn's end, not the half-second timer


def test_a_line_keeps_the_time_its_request_ended_not_the_time_it_was_written(app, caplog,
                                                                          another_request_in_flight):
    with caplog.at_level(logging.INFO, logger="app.access"):
        before = time.time()
        app.test_client().get("/healthz")
        after = time.time()
        assert wait_until(lambda: access_lines(caplog), timeout=access_log.FLUSH_AFTER_SECONDS * 4)
    assert before <= access_lines(caplog)[0].created <= after


@pytest.mark.parametrize("long_lived", [{"path": "/socket.io/"},
                                        {"path": "/chat", "headers": {"Upgrade": "websocket"}}])
def test_open_socketio_and_websocket_connections_do_not_hold_lines_back(caplog, long_lived):
    seen_while_open: list[list[str]] = []

    def wsgi_app(environ, start_response):
        if environ["PATH_INFO"] != "/plain":
            # While this connection stays open, an ordinary request is served.
            list(middleware(EnvironBuilder(path="/plain", headers={"X-Request-ID": "plain-1"}).get_environ(),
                            lambda *args: None))
            seen_while_open.append([line.request_id for line in access_lines(caplog)])
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    middleware = RequestLog(wsgi_app, "/socket.io/")
    with caplog.at_level(logging.INFO, logger="app.access"):
        list(middleware(EnvironBuilder(**long_lived).get_environ(), lambda *args: None))
    assert seen_while_open == [["plain-1"]]


def test_a_websocket_session_is_logged_as_101_not_as_an_error(caplog):
    def websocket_handler(environ, start_response):
        raise StopIteration  # as engineio does under gunicorn once the socket closes

    with caplog.at_level(logging.INFO, logger="app.access"), pytest.raises(StopIteration):
        environ = EnvironBuilder(path="/socket.io/", headers={"Upgrade": "websocket"}).get_environ()
        RequestLog(websocket_handler, "/socket.io/")(environ, lambda *args: None)
    (line,) = access_lines(caplog)
    assert line.status == 101


def test_g_request_id_is_the_requests_and_code_may_set_its_own(shipped_project, isolated_config):
    from flask import g

    isolated_config()
    app = create_app()

    @app.get("/ids")
    def ids():
        seen = g.request_id
        g.request_id = "set-by-view"
        return {"seen": seen, "after": g.request_id, "via_get": g.get("request_id")}

    assert app.test_client().get("/ids", headers={"X-Request-ID": "outer-1"}).json == {
        "seen": "outer-1", "after": "set-by-view", "via_get": "set-by-view"}


def test_access_records_carry_what_logging_would_have_given_them(app, caplog):
    with caplog.at_level(logging.INFO, logger="app.access"):
        before = time.time()
        app.test_client().get("/healthz", headers={"X-Request-ID": "copied-1"})
    (record,) = access_lines(caplog)
    made = logging.getLogger("app.access").makeRecord("app.access", logging.INFO, access_log.__file__, 0,
                                                      access_log.ACCESS_FORMAT, (), None)
    for name in ("name", "levelname", "pathname", "filename", "module", "process", "processName", "thread",
                 "threadName"):
        assert getattr(record, name) == getattr(made, name), name
    assert before <= record.created <= time.time() and 0 <= record.msecs < 1000
    assert record.relativeCreated - made.relativeCreated == pytest.approx((record.created - made.created) * 1000,
                                                                          abs=0.01)
    assert record.request_id == "copied-1" and record.getMessage().endswith('"GET /healthz" 200 ' +
                                                                             f"{record.duration_ms}ms")


def test_a_programs_own_record_factory_makes_the_access_records(app, caplog, monkeypatch):
    class Tagged(logging.LogRecord):
        pass

    monkeypatch.setattr(logging, "_logRecordFactory", Tagged)
    with caplog.at_level(logging.INFO, logger="app.access"):
        app.test_client().get("/healthz")
    assert type(access_lines(caplog)[0]) is Tagged


def test_a_token_in_the_path_is_never_written_to_the_access_log(caplog):
    from flask import Flask

    app = Flask(__name__)
    for rule in ("/password/reset/<token>", "/verify/<string:token>/done", "/courses/<int:course_id>"):
        app.add_url_rule(rule, rule, lambda **kwargs: "ok")
    middleware = RequestLog(app.wsgi_app, "/socket.io/", access_log._secret_prefixes(app))
    with caplog.at_level(logging.INFO, logger="app.access"):
        for path in ("/password/reset/eyJ1IjoxfQ.secret-part", "/verify/tok-123/done", "/courses/5"):
            body = middleware(EnvironBuilder(path=path).get_environ(), lambda *args: None)
            b"".join(body)
        _queue.flush()
    lines = access_lines(caplog)
    assert [line.path for line in lines] == ["/password/reset/[redacted]", "/verify/[redacted]/done", "/courses/5"]
    assert not any("secret-part" in line.getMessage() or "tok-123" in line.getMessage() for line in lines)


def test_the_projects_mailed_links_are_logged_without_their_tokens(app, caplog):
    with caplog.at_level(logging.INFO, logger="app.access"):
        app.test_client().get("/password/reset/a-mailed-token.abc")
        _queue.flush()
    (line,) = access_lines(caplog)
    assert line.path == "/password/reset/[redacted]" and "a-mailed-token" not in line.getMessage()
