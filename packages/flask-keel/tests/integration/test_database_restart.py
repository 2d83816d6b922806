"""A private MariaDB restarted under load: 503s meanwhile, the pool recovers by itself."""

from __future__ import annotations

import threading
import time

import pymysql
import pytest
import requests

from flask_keel.testing import mariadb_entry, wait_until
from tests.conftest import FIXTURE_PROJECT

pytestmark = [pytest.mark.integration, pytest.mark.fixture_project]


def test_mariadb_restart_under_load_and_the_pool_recovers(live_server, private_server):
    database = private_server("mariadb")
    with pymysql.connect(host="127.0.0.1", port=database.port, user="root", autocommit=True) as connection:
        connection.cursor().execute("CREATE DATABASE notes CHARACTER SET utf8mb4")
    server = live_server(migrate=True, project=FIXTURE_PROJECT,
                         DATABASE={"main": mariadb_entry(("127.0.0.1", database.port), "notes")})
    client = requests.Session()
    token = client.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    token = client.post(server.url + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10, json={
        "username": "reader", "password": "a long password", "email": "r@x.io"}).json()["csrf_token"]
    client.post(server.url + "/ws/notes", headers={"X-CSRFToken": token}, timeout=10, json={"title": "REC1"})
    assert requests.get(server.url + "/ws/notes/by-title/REC1", timeout=10).status_code == 200

    seen: list[tuple[float, int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def read() -> None:
        session = requests.Session()
        while not stop.is_set():
            response = session.get(server.url + "/ws/notes/by-title/REC1", timeout=20)
            with lock:
                seen.append((time.monotonic(), response.status_code, response.text))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    database.stop()
    time.sleep(1.5)
    database.start()
    restarted = time.monotonic()
    back = wait_until(lambda: any(at > restarted and status == 200 for at, status, _ in seen), timeout=15)
    time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join(30)

    assert back, "the app did not serve from the database again after its restart"
    assert {status for _, status, _ in seen} <= {200, 503}
    assert any(status == 503 for _, status, _ in seen), "the outage was not noticed"
    assert all("Traceback" not in text for _, _, text in seen)
    assert all(status == 200 for at, status, _ in seen if at > restarted + 10)
    assert "database is reachable again" in server.log()
