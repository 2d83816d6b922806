"""The session store dies under a running server, then comes back."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from flask_keel import create_app
from flask_keel.cache import cache
from flask_keel.testing import project_config, wait_until

pytestmark = pytest.mark.integration


def sign_up(server, username: str) -> requests.Session:
    client = requests.Session()
    token = client.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    response = client.post(server.url + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10,
                           json={"username": username, "password": "a long password", "email": f"{username}@x.io"})
    assert response.status_code == 201, response.text
    return client


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_store_down_gives_503_and_service_returns_by_itself(live_server, private_server, kind):
    store = private_server(kind)
    server = live_server(migrate=True, SERVER_ENV={"SESSION": kind}, SERVICES={kind: store.service(timeout=1)})
    client = sign_up(server, f"user_{kind}")
    assert client.get(server.url + "/ws/me", timeout=10).status_code == 200

    store.kill()
    down = client.get(server.url + "/ws/me", timeout=10)
    assert down.status_code == 503
    assert down.json()["error"] == "session_store_unavailable"
    assert down.headers["Retry-After"] == "5"
    page = client.get(server.url + "/dashboard", timeout=10)
    assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
    assert "session store is unavailable" in page.text and "Traceback" not in page.text
    # What does not need the session keeps working.
    assert client.get(server.url + "/healthz", timeout=10).status_code == 200
    for _ in range(10):
        client.get(server.url + "/ws/me", timeout=10)
    log = server.log()
    # Logged, but not once per request.
    assert 1 <= log.count(f"session store ({kind}) is") <= 2

    store.start()
    came_back_at = time.monotonic()
    status = wait_until(lambda: (code := client.get(server.url + "/ws/me", timeout=10).status_code) != 503 and code,
                      timeout=5)
    assert status, "still 503 five seconds after the store came back"
    assert time.monotonic() - came_back_at < 5
    # Redis keeps its data across the restart (appendonly): the same login still works.
    # memcached keeps nothing: the session is gone, so the user is simply logged out.
    assert status == (200 if kind == "redis" else 401)
    assert "is reachable again" in server.log()
    assert server.process.poll() is None


def test_a_login_whose_session_cannot_be_saved_is_not_reported_as_success(live_server, private_server):
    store = private_server("redis")
    server = live_server(migrate=True, SERVER_ENV={"SESSION": "redis"}, SERVICES={"redis": store.service()})
    sign_up(server, "saver")
    client = requests.Session()
    token = client.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    store.kill()
    response = client.post(server.url + "/ws/login", headers={"X-CSRFToken": token}, timeout=10,
                           json={"username": "saver", "password": "a long password"})
    assert response.status_code == 503


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_cache_fails_open(tmp_path, shipped_project, private_server, kind):
    store = private_server(kind)
    app = create_app(project_config(tmp_path, "sqlite", SERVER_ENV={"CACHE": kind},
                                   SERVICES={kind: store.service(timeout=0.5)}))
    computed = []

    def compute():
        computed.append(1)
        return {"courses": len(computed)}

    with app.app_context():
        assert cache.get_or_set("stats", compute) == {"courses": 1}
        assert cache.get_or_set("stats", compute) == {"courses": 1}  # from the cache
        store.kill()
        assert cache.get("stats", "missing") == "missing"
        assert cache.set("stats", {"courses": 9}) is False
        assert cache.get_or_set("stats", compute) == {"courses": 2}  # computed, no error
        store.start()
        assert cache.set("fresh", [1, 2, 3]) is True
        assert cache.get("fresh") == [1, 2, 3]


def test_filesystem_cache_round_trips_and_expires(tmp_path, shipped_project):
    app = create_app(project_config(tmp_path, "sqlite", SERVER_ENV={"CACHE": "filesystem"}))
    with app.app_context():
        assert cache.set("k", {"a": [1, "two"]}, timeout=1)
        assert cache.get("k") == {"a": [1, "two"]}
        time.sleep(1.1)
        assert cache.get("k") is None
        assert cache.delete("k")


def worker_pid(server) -> int:
    pid = server.process.pid
    return int(open(f"/proc/{pid}/task/{pid}/children").read().split()[0])


def test_redis_killed_under_load_gives_503s_and_recovers_within_5s(live_server, private_server):
    store = private_server("redis")
    server = live_server(migrate=True, SERVER_ENV={"SESSION": "redis"}, SERVICES={"redis": store.service(timeout=1)})
    clients = [sign_up(server, f"loaded{index}") for index in range(4)]
    pid = worker_pid(server)
    seen: list[tuple[float, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def hammer(client) -> None:
        while not stop.is_set():
            status = client.get(server.url + "/ws/me", timeout=10).status_code
            with lock:
                seen.append((time.monotonic(), status))

    threads = [threading.Thread(target=hammer, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    time.sleep(1)
    store.kill()
    time.sleep(2)
    store.start()
    restarted = time.monotonic()
    back = wait_until(lambda: any(at > restarted and status == 200 for at, status in seen), timeout=5)
    time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join(15)

    assert back, "no 200 within 5 s of Redis coming back"
    assert {status for _, status in seen} <= {200, 503}
    assert any(status == 503 for _, status in seen)
    assert all(status == 200 for at, status in seen if at > restarted + 5)
    assert worker_pid(server) == pid  # no worker died
