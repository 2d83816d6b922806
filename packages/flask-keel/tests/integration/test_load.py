"""256 connections for a minute over mixed endpoints, on a real gunicorn (the
default single gevent worker) with MariaDB and Redis sessions: every response
is a 2xx, and no connection fails or waits past 10 s."""

from __future__ import annotations

import os
import shutil
import threading
import uuid

import pytest
import requests

from bench import load
from flask_keel.testing import mariadb_entry, redis_entry
from tests.conftest import FIXTURE_PROJECT

pytestmark = [pytest.mark.integration, pytest.mark.fixture_project]

SECONDS = int(os.environ.get("LOAD_TEST_SECONDS", "60"))
CONNECTIONS_PER_ENDPOINT = 64


def test_256_connections_for_a_minute_over_mixed_endpoints(live_server, mariadb, mariadb_databases, redis_server):
    assert shutil.which("wrk"), "wrk is needed for this test: apt-get install wrk"
    server = live_server(
        migrate=True,
        project=FIXTURE_PROJECT, DATABASE={"main": mariadb_entry(mariadb, mariadb_databases("load"))},
        # Every connection comes from 127.0.0.1: no per-address bound (test_hostile_clients tests it).
        SERVER_ENV={"SESSION": "redis", "APP_NAME": f"load{uuid.uuid4().hex[:6]}", "CLIENT_CONNECTIONS": 0},
        SERVICES={"redis": redis_entry(redis_server)},
    )
    client = requests.Session()
    token = client.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    token = client.post(server.url + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10, json={
        "username": "loaded", "password": "a long password", "email": "l@x.io"}).json()["csrf_token"]
    assert client.post(server.url + "/ws/notes", headers={"X-CSRFToken": token}, json={"title": "LOAD1"},
                       timeout=10).ok
    cookie = {"Cookie": f"session={client.cookies['session']}"}

    endpoints = [
        ("/ws/info", {}),  # JSON, no session
        ("/ws/notes/by-title/LOAD1", {}),  # a MariaDB read
        ("/ws/me", cookie),  # a signed-in user's JSON: the Redis session
        ("/notes", cookie),  # a page: the session, a query, a form, Jinja
    ]
    results: dict[str, load.LoadResult] = {}

    def hammer(path: str, headers: dict[str, str]) -> None:
        results[path] = load.wrk(server.url + path, CONNECTIONS_PER_ENDPOINT, SECONDS, headers=headers)

    threads = [threading.Thread(target=hammer, args=endpoint) for endpoint in endpoints]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SECONDS + 60)

    report = {path: (result.requests, result.non_2xx, result.socket_errors, round(result.latency_p99_ms))
              for path, result in results.items()}
    print(f"\n{CONNECTIONS_PER_ENDPOINT} connections each, {SECONDS} s; (requests, non-2xx, socket errors, "
          f"p99 ms): {report}")
    assert len(results) == len(endpoints), report
    for path, result in results.items():
        assert result.requests > SECONDS, (path, report)  # each endpoint was really served
        assert result.non_2xx == 0 and result.socket_errors == 0, (path, report)
    log = server.log()
    assert "Traceback" not in log
    assert log.count("Booting worker") == 1, "a worker died and was replaced"
