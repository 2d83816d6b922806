"""The index of each user's sessions (flask_keel.sessions.index), on Redis, memcached and
files, behind a real `python -m app serve` (gunicorn) of the repository's project:

1. a login enters it (created, last seen, the client shortened, its address), a logout
   takes its entry out, and an entry's expiry moves on with its session;
2. readers trust no entry alone: one whose session expired or was deleted behind the
   app's back is not listed, and leaves the index; one naming another user's session
   is not theirs to list or end;
3. "last seen" is written at most once per SESSION_SEEN_INTERVAL, never per request;
4. what is planted in the index (a pickle, garbage) is never unpickled;
5. end_user_logins, from another process, deletes every stored session of the user
   (their next request is a visitor's) and no one else's.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import msgspec
import pytest
import redis
import requests
from pymemcache.client.base import Client as MemcacheClient

from flask_keel import create_app
from flask_keel.sessions import end_user_sessions, user_sessions
from flask_keel.sessions.index import SessionEntry
from flask_keel.testing import redis_client, redis_entry, start_live_server
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

PASSWORD = "a long password"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
           "Mobile Safari/537.36")
LIFETIME = 60

END_USER_LOGINS = (
    "import sys\n"
    "from app import create_app\n"
    "from flask_keel.auth import end_user_logins\n"
    "app = create_app()\n"
    "with app.app_context():\n"
    "    print(end_user_logins(int(sys.argv[1])))\n"
)


class Served:
    """A server on one store, an in-process app on the same config (to read the index as the
    app does), and the store itself, read directly."""

    def __init__(self, server, store: str, services: dict, name: str):
        self.server, self.store, self.services, self.name = server, store, services, name
        self.app = create_app(server.config)

    @property
    def url(self) -> str:
        return self.server.url

    def login(self, username: str, agent: str = FIREFOX) -> requests.Session:
        client = requests.Session()
        client.headers["User-Agent"] = agent
        token = client.get(self.url + "/ws/csrf", timeout=10).json()["csrf_token"]
        answer = client.post(self.url + "/ws/login", json={"username": username, "password": PASSWORD},
                             headers={"X-CSRFToken": token}, timeout=10)
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRFToken"] = answer.json()["csrf_token"]
        client.user_id = answer.json()["user"]["id"]
        return client

    def signup(self, username: str, agent: str = FIREFOX) -> requests.Session:
        client = requests.Session()
        client.headers["User-Agent"] = agent
        token = client.get(self.url + "/ws/csrf", timeout=10).json()["csrf_token"]
        answer = client.post(self.url + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10,
                             json={"username": username, "password": PASSWORD, "email": f"{username}@index.test"})
        assert answer.status_code == 201, answer.text
        client.headers["X-CSRFToken"] = answer.json()["csrf_token"]
        client.user_id = answer.json()["user"]["id"]
        return client

    def signed_in(self, client: requests.Session) -> bool:
        return client.get(self.url + "/ws/me", timeout=10).status_code == 200

    # -- what the app reads ---------------------------------------------------------------

    def listed(self, user_id: int) -> list:
        with self.app.test_request_context():
            return user_sessions(user_id)

    # -- the store, directly ----------------------------------------------------------------

    def raw_entries(self, user_id: int) -> dict[str, SessionEntry]:
        index = self.app.session_interface.index
        if self.store == "redis":
            raw = self.redis().hgetall(index.key(str(user_id)))
            return {field.decode(): msgspec.json.decode(value, type=SessionEntry) for field, value in raw.items()}
        if self.store == "memcached":
            raw = self.memcached().get(index.key(str(user_id)))
            return msgspec.json.decode(raw, type=dict[str, SessionEntry]) if raw else {}
        folder = index._folder(str(user_id))
        entries = [msgspec.json.decode(path.read_bytes(), type=SessionEntry) for path in folder.glob("*.json")]
        return {entry.sid: entry for entry in entries}

    def redis(self):
        return redis_client((self.services["redis"]["HOST"], self.services["redis"]["PORT"]))

    def memcached(self) -> MemcacheClient:
        return MemcacheClient(("127.0.0.1", self.services["memcached"]["PORT"]))

    def delete_session_behind_the_apps_back(self, sid: str) -> None:
        with self.app.app_context():
            inner = self.app.session_interface.inner
            inner._delete_session(inner._get_store_id(sid))

    def plant(self, user_id: int, sid: str, data: bytes) -> None:
        """Write `data` as the index entry of `sid`, as someone with access to the store could
        (in memcached, where a user's entries are one item, `data` replaces the item)."""
        index = self.app.session_interface.index
        if self.store == "redis":
            self.redis().hset(index.key(str(user_id)), sid, data)
        elif self.store == "memcached":
            self.memcached().set(index.key(str(user_id)), data, expire=60, noreply=False)
        else:
            index._file(str(user_id), sid).write_bytes(data)

    def plant_entry(self, user_id: int, entry: SessionEntry) -> None:
        if self.store == "memcached":
            self.plant(user_id, entry.sid, msgspec.json.encode({**self.raw_entries(user_id), entry.sid: entry}))
        else:
            self.plant(user_id, entry.sid, msgspec.json.encode(entry))


def serve(tmp_path_factory, store: str, port: int | None, **flask_config) -> Served:
    name = f"ix{uuid.uuid4().hex[:8]}"
    directory = tmp_path_factory.mktemp(f"index-{store}")
    services: dict = {"filesystem": {"PATH": str(directory / "sessions")}}
    if store == "redis":
        services["redis"] = redis_entry(("127.0.0.1", port))
    elif store == "memcached":
        services["memcached"] = {"HOST": "127.0.0.1", "PORT": port}
    server = start_live_server(directory, store, migrate=True, root=REPO_ROOT,
                               SERVER_ENV={"SESSION": store, "APP_NAME": name},
                               SERVICES=services,
                               FLASK={"CONFIG": {"LOGIN_RATE_LIMIT": "1000 per minute",
                                                 "PERMANENT_SESSION_LIFETIME": LIFETIME, **flask_config}})
    return Served(server, store, services, name)


@pytest.fixture(scope="module", params=["redis", "memcached", "filesystem"])
def served(request, tmp_path_factory):
    port = request.getfixturevalue(f"{request.param}_server")[1] if request.param != "filesystem" else None
    served = serve(tmp_path_factory, request.param, port)
    try:
        yield served
    finally:
        served.server.stop()


def test_a_login_enters_the_index_and_a_logout_takes_it_out(served):
    name = f"u{uuid.uuid4().hex[:8]}"
    laptop = served.signup(name)
    before = time.time()
    phone = served.login(name, agent=ANDROID)
    entries = served.raw_entries(laptop.user_id)
    assert set(entries) == {laptop.cookies["session"], phone.cookies["session"]}
    on_phone = entries[phone.cookies["session"]]
    assert on_phone.agent == "Chrome on Android" and entries[laptop.cookies["session"]].agent == "Firefox on Linux"
    assert on_phone.address == "127.0.0.1"
    assert before - 1 <= on_phone.created == on_phone.seen <= time.time() + 1
    assert before + LIFETIME - 5 <= on_phone.expires <= time.time() + LIFETIME + 1  # as long as the session
    if served.store == "redis":  # the hash outlives every session it lists
        key = served.app.session_interface.index.key(str(laptop.user_id))
        assert served.redis().ttl(key) >= LIFETIME

    listed = served.listed(laptop.user_id)
    assert sorted(active.client for active in listed) == ["Chrome on Android", "Firefox on Linux"]
    assert all(phone.cookies["session"] not in repr(active) for active in listed)  # the id itself is never shown

    assert phone.post(served.url + "/ws/logout", timeout=10).status_code == 200
    assert set(served.raw_entries(laptop.user_id)) == {laptop.cookies["session"]}
    assert [active.client for active in served.listed(laptop.user_id)] == ["Firefox on Linux"]


def test_an_entry_whose_session_is_gone_is_neither_listed_nor_kept(served):
    name = f"g{uuid.uuid4().hex[:8]}"
    first = served.signup(name)
    second = served.login(name, agent=ANDROID)
    gone = second.cookies["session"]
    served.delete_session_behind_the_apps_back(gone)  # as a flushed store or an expiry would
    assert [active.client for active in served.listed(first.user_id)] == ["Firefox on Linux"]
    assert gone not in served.raw_entries(first.user_id)  # and dropped from the index


def test_an_entry_naming_another_users_session_is_not_theirs(served):
    mallory, victim = served.signup(f"m{uuid.uuid4().hex[:8]}"), served.signup(f"v{uuid.uuid4().hex[:8]}")
    planted = served.raw_entries(victim.user_id)[victim.cookies["session"]]
    # Mallory's index names the victim's session (as a write to the store could make it):
    # it is neither listed as hers nor ended with hers.
    served.plant_entry(mallory.user_id, planted)
    assert planted.sid in served.raw_entries(mallory.user_id)
    assert [active.client for active in served.listed(mallory.user_id)] == ["Firefox on Linux"]
    with served.app.test_request_context():
        ended = end_user_sessions(mallory.user_id)
    assert planted.sid not in ended
    assert served.signed_in(victim)


def test_planted_pickles_and_garbage_are_never_unpickled(served, tmp_path):
    user = served.signup(f"p{uuid.uuid4().hex[:8]}")
    marker = tmp_path / "unpickled"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    served.plant(user.user_id, "a" * 32, pickle.dumps(Exploit()))
    served.plant(user.user_id, "b" * 32, b"\xff not json at all")
    listed = served.listed(user.user_id)
    assert not marker.exists()
    assert len(listed) <= 1  # memcached's one item was replaced by the garbage: nothing listed
    assert served.signed_in(user)  # and the login itself is unharmed


def test_end_user_logins_from_another_process_deletes_every_session_of_the_user(served):
    name, other = f"e{uuid.uuid4().hex[:8]}", f"o{uuid.uuid4().hex[:8]}"
    logins = [served.signup(name), served.login(name, agent=ANDROID), served.login(name)]
    bystander = served.signup(other)
    result = subprocess.run([sys.executable, "-c", END_USER_LOGINS, str(logins[0].user_id)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "APP_CONFIG": str(served.server.config)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "3"
    assert not any(served.signed_in(login) for login in logins)
    assert served.listed(logins[0].user_id) == [] and served.raw_entries(logins[0].user_id) == {}
    assert served.signed_in(bystander)


def test_last_seen_is_written_at_most_once_per_interval_never_per_request(redis_server, tmp_path_factory):
    served = serve(tmp_path_factory, "redis", redis_server[1], SESSION_SEEN_INTERVAL=2)
    try:
        user = served.signup(f"s{uuid.uuid4().hex[:8]}")
        key = served.app.session_interface.index.key(str(user.user_id)).encode()
        writes: list[bytes] = []
        watcher = threading.Thread(target=monitor_writes, args=(redis_server[1], key, writes, 4.5), daemon=True)
        watcher.start()
        time.sleep(0.3)  # MONITOR is on
        first_seen = served.raw_entries(user.user_id)[user.cookies["session"]].seen
        for _ in range(20):
            assert served.signed_in(user)
        time.sleep(0.5)
        during_burst = len(writes)
        time.sleep(max(0.0, first_seen + 2.2 - time.time()))  # the interval has passed
        assert served.signed_in(user)
        watcher.join()
        seen = served.raw_entries(user.user_id)[user.cookies["session"]].seen
        print(f"index writes: {during_burst} during 20 requests, {len(writes)} in all")
        # The (one) worker wrote the entry at the signup: 20 requests wrote nothing more.
        assert during_burst == 0, writes
        assert seen > first_seen + 2  # written again once the interval had passed
    finally:
        served.server.stop()


def monitor_writes(port: int, key: bytes, writes: list[bytes], seconds: float) -> None:
    """Every HSET on `key` Redis executes within `seconds` (its MONITOR stream)."""
    connection = redis.Redis(port=port).connection_pool.get_connection()
    connection.send_command("MONITOR")
    connection.read_response()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if connection.can_read(timeout=0.2):
            line = connection.read_response()
            if b'"HSET"' in line.upper() and key in line:
                writes.append(line)
    connection.disconnect()


def test_a_request_running_when_its_session_ends_does_not_bring_it_back(served):
    """A request that read the session before "sign out everywhere" deleted it, and changes
    it after (a flashed message): its write would store the session again. It is not written."""
    name = f"r{uuid.uuid4().hex[:8]}"
    user = served.signup(name)
    sid = user.cookies["session"]
    app, interface = served.app, served.app.session_interface
    with app.test_request_context(headers={"Cookie": f"session={sid}"}) as context:
        running = interface.open_session(app, context.request)
        assert dict.get(running, "_user_id") == str(user.user_id)
        with app.test_request_context():
            assert end_user_sessions(user.user_id) == [sid]  # from another request, meanwhile
        running["_flashes"] = [("info", "saved")]
        response = app.response_class()
        interface.save_session(app, running, response)
    assert not served.signed_in(user)
    assert served.listed(user.user_id) == []
    assert any(header.startswith("session=;") for header in response.headers.getlist("Set-Cookie"))


def test_entries_past_their_expiry_leave_the_index_at_the_next_login(served):
    name = f"x{uuid.uuid4().hex[:8]}"
    user = served.signup(name)
    now = time.time()
    expired = SessionEntry(sid="c" * 43, created=now - 200, seen=now - 100, expires=now - 1, agent="Old")
    served.plant_entry(user.user_id, expired)
    assert expired.sid in served.raw_entries(user.user_id)
    served.login(name)  # a user who never opens the account page
    assert expired.sid not in served.raw_entries(user.user_id)
    assert len(served.raw_entries(user.user_id)) == 2
