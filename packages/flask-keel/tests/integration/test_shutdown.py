"""SIGTERM while clients are writing: what was acknowledged is stored, nothing is half-written."""

from __future__ import annotations

import signal
import threading
import time

import pymysql
import pytest
import requests

from flask_keel.testing import mariadb_entry
from tests.conftest import FIXTURE_PROJECT

pytestmark = [pytest.mark.integration, pytest.mark.fixture_project]


def test_sigterm_during_inserts_loses_no_acknowledged_write(live_server, mariadb, mariadb_databases):
    database = mariadb_databases("sigterm")
    server = live_server(migrate=True, project=FIXTURE_PROJECT, DATABASE={"main": mariadb_entry(mariadb, database)})
    client = requests.Session()
    token = client.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    signup = client.post(server.url + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10,
                         json={"username": "writer", "password": "a long password", "email": "w@x.io"})
    token = signup.json()["csrf_token"]
    cookie = client.cookies.get("session")

    acknowledged: list[str] = []
    statuses: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def write(worker: int) -> None:
        session = requests.Session()
        session.cookies.set("session", cookie)
        number = 0
        while not stop.is_set():
            code = f"W{worker}N{number}"
            number += 1
            try:
                response = session.post(server.url + "/ws/notes", headers={"X-CSRFToken": token}, timeout=10,
                                        json={"title": code, "body": f"Note {code}"})
            except requests.RequestException:
                return  # the server has stopped listening
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 201:
                    acknowledged.append(code)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    stop.set()
    for thread in threads:
        thread.join(15)

    assert len(acknowledged) > 20, "too few writes happened before the stop to mean anything"
    assert all(status == 201 for status in statuses), sorted(set(statuses))
    connection = pymysql.connect(host=mariadb[0], port=mariadb[1], user="root", database=database)
    with connection.cursor() as cursor:
        cursor.execute("SELECT title, body, owner_id FROM notes")
        rows = {code: (body, owner) for code, body, owner in cursor.fetchall()}
    connection.close()
    missing = [code for code in acknowledged if code not in rows]
    assert missing == []
    # Every stored row is whole, whether or not its answer reached the client.
    assert all(body == f"Note {code}" and owner for code, (body, owner) in rows.items())
