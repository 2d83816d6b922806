"""A socket's login is checked when it connects and revoked by message (issue 25).

In-process (the fixture project, Flask-SocketIO's test client):

1. events are served without reading the session from the store, except once every
   SOCKET_SESSION_RECHECK seconds;
2. an event after the session's expiry is answered `not_logged_in` and the socket closed;
3. end_user_logins ends every socket of that user and nobody else's.

Against a real `python -m app serve` with two gunicorn workers (Redis as session store
and message queue), with sockets of the same login held by both workers (seen from
/proc, as in test_workers.py):

4. an HTTP logout ends every socket of that login on both workers; another login of
   the same user and another user keep theirs;
5. a new login over the same session does the same;
6. end_user_logins, called from another process, ends every socket of every login of
   the user on both workers, and no one else's;
7. a socket that sends nothing is closed when its session's lifetime runs out, on
   both workers, not before and within two seconds after.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from flask_keel import create_app
from flask_keel.auth import end_user_logins
from flask_keel.client import Client
from flask_keel.realtime import socketio_of
from flask_keel.realtime.connections import NOT_LOGGED_IN, SOCKET_LOGIN_KEY
from flask_keel.testing import ApiClient, project_config, redis_entry, run_db, start_live_server, wait_until
from flask_keel.testing.workers import holders, on_both_workers, wait_for_workers
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

PASSWORD = "a long password"
BURST = 8  # sockets opened at once, so that both workers (both in accept) take some
LIFETIME = 4  # PERMANENT_SESSION_LIFETIME of the expiry test, seconds

END_USER_LOGINS_FROM_ANOTHER_PROCESS = (
    "import sys\n"
    "from app import create_app\n"
    "from flask_keel.auth import end_user_logins\n"
    "app = create_app()\n"
    "with app.app_context():\n"
    "    end_user_logins(int(sys.argv[1]))\n"
)


# -- in-process -------------------------------------------------------------------------------

@pytest.fixture
def app(tmp_path, fixture_project):
    app = create_app(project_config(tmp_path, "sqlite"))
    assert run_db(app, "upgrade").exit_code == 0
    return app


def socket_of(app, name: str):
    api = ApiClient(app.test_client())
    user_id = api.signup(name)
    token = api.get("/ws/csrf").json["csrf_token"]
    sock = socketio_of(app).test_client(app, flask_test_client=api.client, auth={"csrf_token": token})
    assert sock.is_connected()
    return user_id, sock


def logins(app) -> list:
    return [environ[SOCKET_LOGIN_KEY] for environ in list(socketio_of(app).server.environ.values())
            if SOCKET_LOGIN_KEY in environ]


def counting_store_reads(app) -> list[str]:
    """Every read of a session from the store, from now on."""
    inner = app.session_interface.inner
    reads: list[str] = []
    read = inner._retrieve_session_data

    def counted(store_id):
        reads.append(store_id)
        return read(store_id)

    inner._retrieve_session_data = counted
    return reads


def test_events_read_the_session_store_only_once_per_recheck_window(app):
    _, sock = socket_of(app, "reader")
    reads = counting_store_reads(app)
    for number in range(20):
        answer = sock.emit("rpc", {"name": "whoami"}, callback=True)
        assert answer["ok"] is True and answer["result"]["username"] == "reader", answer
        assert sock.emit("rpc", {"name": "echo", "payload": number}, callback=True)["result"] == {"echo": number}
    assert reads == []  # the login was checked at connect; 40 events read nothing

    [login] = logins(app)
    login.checked -= socketio_of(app).session_recheck + 1  # the window has passed
    assert sock.emit("rpc", {"name": "whoami"}, callback=True)["ok"] is True
    assert sock.emit("rpc", {"name": "whoami"}, callback=True)["ok"] is True
    assert len(reads) == 1  # one read for the recheck, none for the event after it


def test_an_event_after_the_sessions_expiry_is_answered_not_logged_in_and_closes(app):
    _, sock = socket_of(app, "expiring")
    _, bystander = socket_of(app, "bystander")
    [login, _] = sorted(logins(app), key=lambda login: login.username != "expiring")
    assert login.username == "expiring"
    # Its session's lifetime ran out a moment ago; the sweeper has not come round yet.
    login.expires = time.monotonic() - 0.01
    reads = counting_store_reads(app)
    assert sock.emit("rpc", {"name": "whoami"}, callback=True) == NOT_LOGGED_IN
    assert wait_until(lambda: not sock.is_connected(), timeout=5)
    assert reads == []  # told without asking the store
    assert bystander.emit("rpc", {"name": "whoami"}, callback=True)["result"]["username"] == "bystander"


def test_end_user_logins_ends_every_socket_of_that_user_only(app):
    user_id, first = socket_of(app, "leaving")
    api = ApiClient(app.test_client())  # a second login of the same user
    assert api.post("/ws/login", json={"username": "leaving", "password": "correct horse battery"}).status_code == 200
    token = api.get("/ws/csrf").json["csrf_token"]
    second = socketio_of(app).test_client(app, flask_test_client=api.client, auth={"csrf_token": token})
    _, other = socket_of(app, "staying")
    assert first.is_connected() and second.is_connected()
    with app.app_context():
        end_user_logins(user_id)
    assert wait_until(lambda: not first.is_connected() and not second.is_connected(), timeout=5)
    assert other.is_connected()
    assert other.emit("rpc", {"name": "whoami"}, callback=True)["ok"] is True


# -- two workers ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pair(redis_server, tmp_path_factory):
    """One server with two workers, sessions and the message queue on Redis."""
    server = start_live_server(tmp_path_factory.mktemp("revocation"), "revocation", migrate=True, root=REPO_ROOT,
                               **two_worker_sections(redis_server))
    try:
        wait_for_workers(server, 2)
        yield server
    finally:
        server.stop()


def two_worker_sections(redis_server, **flask_config) -> dict:
    return dict(
        SERVER_ENV={"PROCESSES": 2, "SESSION": "redis", "APP_NAME": f"rv{uuid.uuid4().hex[:8]}",
                    "CLIENT_CONNECTIONS": 0},
        SERVICES={"redis": redis_entry(redis_server)},
        FLASK={"CONFIG": {"SIGNUP_RATE_LIMIT": "1000 per minute", "LOGIN_RATE_LIMIT": "1000 per minute",
                          **flask_config}})


def signed_up(server, name: str) -> Client:
    client = Client(server.url)
    client.signup(name, PASSWORD, f"{name}@revocation.test")
    return client


def close_all(clients: list[Client]) -> None:
    for client in clients:
        client.close()


def track_disconnects(clients: list[Client]) -> list[list[tuple[float, str]]]:
    seen: list[list[tuple[float, str]]] = [[] for _ in clients]
    for index, client in enumerate(clients):
        client.sio.on("disconnect", handler=lambda reason=None, index=index:
                      seen[index].append((time.monotonic(), str(reason))))
    return seen


def test_logout_ends_that_logins_sockets_on_both_workers(pair):
    ada = signed_up(pair, "ada")
    sockets = on_both_workers(pair, ada)
    seen = track_disconnects(sockets)
    other_login = Client(pair.url)
    other_login.login("ada", PASSWORD)
    other_user = signed_up(pair, "grace")
    try:
        assert ada.post("/ws/logout") == {"logged_out": True}  # plain HTTP; the clients keep their sockets
        assert wait_until(lambda: not any(client.connected for client in sockets), timeout=10), \
            holders(pair, [client for client in sockets if client.connected])
        assert all(any(reason == "server disconnect" for _, reason in events) for events in seen), seen
        assert other_login.connected and other_user.connected
        assert other_login.send_request("whoami")["username"] == "ada"
        assert other_user.send_request("whoami")["username"] == "grace"
    finally:
        close_all([*sockets, other_login, other_user])


def test_a_new_login_over_the_session_ends_its_sockets_on_both_workers(pair):
    bob = signed_up(pair, "bob")
    sockets = on_both_workers(pair, bob)
    other_user = signed_up(pair, "hedy")
    # The same browser session logs in again (as anyone): the login it replaces ends,
    # with every socket opened on it, on both workers.
    again = Client(pair.url, realtime=False)
    again.http.cookies.update(bob.http.cookies)
    again._csrf_token = bob._csrf_token
    try:
        again.login("hedy", PASSWORD)
        assert wait_until(lambda: not any(client.connected for client in sockets), timeout=10), \
            holders(pair, [client for client in sockets if client.connected])
        assert other_user.connected and other_user.send_request("whoami")["username"] == "hedy"
        assert again.get("/ws/me")["username"] == "hedy"  # the new login works
    finally:
        close_all([*sockets, other_user, again])


def test_end_user_logins_from_another_process_ends_the_users_sockets_on_both_workers(pair):
    carol = signed_up(pair, "carol")
    sockets = on_both_workers(pair, carol)
    second_login = Client(pair.url)
    second_login.login("carol", PASSWORD)
    sockets.append(second_login)
    other_user = signed_up(pair, "alan")
    try:
        result = subprocess.run([sys.executable, "-c", END_USER_LOGINS_FROM_ANOTHER_PROCESS, str(carol.user["id"])],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "APP_CONFIG": str(pair.config)})
        assert result.returncode == 0, result.stderr
        assert wait_until(lambda: not any(client.connected for client in sockets), timeout=10), \
            holders(pair, [client for client in sockets if client.connected])
        time.sleep(0.5)
        assert other_user.connected and other_user.send_request("whoami")["username"] == "alan"
    finally:
        close_all([*sockets, other_user])


def test_a_silent_socket_is_closed_when_its_session_expires_on_both_workers(live_server, redis_server):
    server = live_server(migrate=True, **two_worker_sections(redis_server, PERMANENT_SESSION_LIFETIME=LIFETIME))
    wait_for_workers(server, 2)
    before = time.monotonic()
    dora = signed_up(server, "dora")  # the session is written (and its lifetime starts) in there
    after = time.monotonic()
    sockets = on_both_workers(server, dora)
    assert time.monotonic() < before + LIFETIME, "the sockets took longer to open than the session lives"
    assert all(client.connected for client in sockets)
    seen = track_disconnects(sockets)
    try:
        # Nothing is sent: the server closes them when the session's lifetime runs out.
        assert wait_until(lambda: not any(client.connected for client in sockets), timeout=LIFETIME + 5)
        closed = [events[0][0] for events in seen]
        assert all(events[0][1] == "server disconnect" for events in seen), seen
        print(f"session lifetime {LIFETIME}s; sockets closed {min(closed) - after:.2f}s to "
              f"{max(closed) - before:.2f}s after the signup")
        assert min(closed) >= before + LIFETIME - 0.1  # not before it ran out
        assert max(closed) <= after + LIFETIME + 2  # and at once after (the sweeper wakes each second)
        # The login is over for HTTP too: the store dropped the session.
        assert dora.http.get(server.url + "/ws/me", timeout=10).status_code == 401
        assert "Traceback" not in server.log()
    finally:
        close_all(sockets)
