"""Socket payloads get the answer HTTP gives them, against a real gunicorn on MariaDB: a
lone surrogate, an id past an INT column and a duplicate on a two-column key answer the
same 4xx on both; a message nested past the limit is refused before it is decoded; one
user's sockets are capped, and one socket flooding 812 KB messages leaves /healthz fast."""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path

import pytest
import requests
import websocket

from flask_keel.client import Client, TransportError
from flask_keel.testing import wait_until
from flask_keel.testing.services import mariadb_entry

pytestmark = pytest.mark.integration

INT_COLUMN_MAX = 2**31 - 1
LONE_SURROGATE = "\ud800"


@pytest.fixture
def school(live_server, mariadb, mariadb_databases):
    """The shipped project on MariaDB (INT id columns), one worker."""
    return live_server(migrate=True, DATABASE={"main": mariadb_entry(mariadb, mariadb_databases("sockpay"))})


def signed_up(url: str, name: str) -> Client:
    client = Client(url)
    client.signup(name, "a long password", f"{name}@x.io")
    return client


def over_socket(client: Client, name: str, payload) -> dict:
    return client.sio.call("rpc", {"name": name, "payload": payload}, timeout=5)


def over_http(client: Client, name: str, payload) -> requests.Response:
    # json.dumps escapes the lone surrogate as \ud800, as a browser's JSON.stringify does.
    return client.http.post(f"{client.url}/ws/{name}", data=json.dumps(payload), timeout=10,
                            headers={"X-CSRFToken": client._token(), "Content-Type": "application/json"})


def assert_same_answer(client: Client, name: str, payload, status: int, field: str | None) -> None:
    http = over_http(client, name, payload)
    ack = over_socket(client, name, payload)
    assert http.status_code == status and http.json()["field"] == field, (name, http.text)
    assert ack["ok"] is False and ack["status"] == status, (name, ack)
    assert ack["error"] == http.json()["error"] and ack["field"] == field, (name, ack, http.text)


def test_socket_payloads_get_the_4xx_http_gives(school):
    teacher, student = signed_up(school.url, "tess"), signed_up(school.url, "stan")
    assert teacher.send_request("teachers.create", {"name": "Tess", "department": "Maths"})["teacher"] is True
    assert student.send_request("students.create", {"name": "Stan", "birth_date": "2001-02-03"})["student"] is True
    course = teacher.send_request("courses.create", {"course_name": "Algebra", "course_code": "ALG"})

    # A lone surrogate anywhere in any named request's payload: 400, never a 500.
    for name, payload in [("echo", {"x": LONE_SURROGATE}),
                          ("courses.create", {"course_name": "A" + LONE_SURROGATE, "course_code": "X1"}),
                          ("courses.list", {"q": LONE_SURROGATE}),
                          ("courses.enroll", {"course_id": course["id"], "note": [LONE_SURROGATE]}),
                          ("school.summary", [LONE_SURROGATE])]:
        assert_same_answer(teacher if name == "courses.create" else student, name, payload, 400, None)

    # Ids past MariaDB's INT: the same 400 naming the field; the largest INT is a missing course.
    assert_same_answer(student, "courses.enroll", {"course_id": INT_COLUMN_MAX + 1}, 400, "course_id")
    assert_same_answer(student, "courses.enroll", {"course_id": INT_COLUMN_MAX}, 409, "course_id")
    assert_same_answer(student, "courses.list", {"teacher_id": 2**31}, 400, "teacher_id")

    # A duplicate on the two-column key: `field` a string on both, `fields` the list.
    assert over_socket(student, "courses.enroll", {"course_id": course["id"]})["ok"] is True
    assert_same_answer(student, "courses.enroll", {"course_id": course["id"]}, 409, "student_id,course_id")
    assert over_socket(student, "courses.enroll", {"course_id": course["id"]})["fields"] == ["student_id",
                                                                                            "course_id"]
    log = school.log()
    assert "Traceback" not in log and "UnicodeEncodeError" not in log and "Out of range" not in log


def raw_socket(client: Client) -> websocket.WebSocket:
    """A websocket speaking Engine.IO/Socket.IO by hand, signed in as `client`."""
    cookie = "; ".join(f"{name}={value}" for name, value in client.http.cookies.items())
    ws = websocket.create_connection(client.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
                                     header=[f"Cookie: {cookie}"], timeout=5)
    assert ws.recv().startswith("0{")  # Engine.IO open
    ws.send("40" + json.dumps({"csrf_token": client._token()}))
    assert ws.recv().startswith("40{")  # joined the namespace
    return ws


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_a_message_nested_past_the_limit_is_refused_before_it_is_decoded(school):
    ada = signed_up(school.url, "ada")
    ws = raw_socket(ada)
    started = time.monotonic()
    ws.send('421["rpc",{"name":"echo","payload":' + deep(1000) + "}]")
    answer = ws.recv()
    assert time.monotonic() - started < 1
    assert answer.startswith("431["), answer
    ack = json.loads(answer[3:])[0]
    assert ack["status"] == 400 and ack["error"] == "invalid_payload" and "nested" in ack["message"]
    ws.send('422["rpc",{"name":"echo","payload":' + deep(20) + "}]")  # the socket carries on
    assert json.loads(ws.recv()[3:])[0]["result"]["echo"] == json.loads(deep(20))

    ws.send('42["rpc",{"name":"echo","payload":' + deep(1000) + "}]")  # no ack asked: the connection closes
    started = time.monotonic()
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        while time.monotonic() - started < 1:
            ws.recv()
    assert time.monotonic() - started < 1

    over_http = ada.http.post(school.url + "/ws/echo", data=deep(1000), timeout=10,
                              headers={"X-CSRFToken": ada._token(), "Content-Type": "application/json"})
    assert over_http.status_code == 400 and "nested" in over_http.json()["message"]
    assert "RecursionError" not in school.log() and "Traceback" not in school.log()


def test_one_user_holds_a_bounded_number_of_sockets(live_server):
    server = live_server(migrate=True, FLASK={"CONFIG": {"SOCKETS_PER_USER": 4}})
    first = signed_up(server.url, "many")
    held = [first] + [first.clone() for _ in range(3)]
    assert all(client.connected for client in held)
    with pytest.raises(TransportError, match="too many sockets"):
        first.clone()
    other = signed_up(server.url, "other")  # another user is not counted against it
    assert other.connected
    held.pop().close()

    def another() -> Client | None:
        try:
            return first.clone()
        except TransportError:
            return None

    again = wait_until(another, timeout=5)  # a freed place can be taken again
    assert again is not None and again.connected


ECHO_BYTES = 812 * 1024
FLOOD_SECONDS = 10
FLOOD_MESSAGES = 331


@pytest.mark.timing
def test_one_socket_flooding_812_kb_echoes_leaves_healthz_fast(live_server):
    server = live_server(migrate=True)
    mallory = signed_up(server.url, "mallory")
    ws = raw_socket(mallory)
    ws.settimeout(FLOOD_SECONDS)
    body = '["rpc",{"name":"echo","payload":"' + "x" * ECHO_BYTES + '"}]'
    sent, acks, stop = [0], [0], threading.Event()

    def flood() -> None:
        deadline = time.monotonic() + FLOOD_SECONDS
        try:
            while sent[0] < FLOOD_MESSAGES and time.monotonic() < deadline and not stop.is_set():
                ws.send(f"42{sent[0] + 1}" + body)  # each with an ack id: answered in full
                sent[0] += 1
        except (websocket.WebSocketException, OSError):
            pass  # the send timed out: the server reads this socket no faster than its budget

    def drain() -> None:
        try:
            while not stop.is_set():
                ws.recv()
                acks[0] += 1
        except (websocket.WebSocketException, OSError):
            pass

    worker = worker_pid(server.process.pid)
    rss_before = rss_mb(worker)
    threads = [threading.Thread(target=flood, daemon=True), threading.Thread(target=drain, daemon=True)]
    for thread in threads:
        thread.start()
    times, rss = [], [rss_before]
    deadline = time.monotonic() + FLOOD_SECONDS
    while time.monotonic() < deadline:
        started = time.monotonic()
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        times.append(time.monotonic() - started)
        rss.append(rss_mb(worker))
        time.sleep(0.1)
    stop.set()
    ws.close()
    median, grown = statistics.median(times), max(rss) - rss_before
    print(f"echo flood: {sent[0]} messages of 812 KB sent, {acks[0]} answered in {FLOOD_SECONDS}s; /healthz median "
          f"{median * 1000:.1f} ms, max {max(times) * 1000:.1f} ms over {len(times)} probes; worker RSS "
          f"+{grown:.0f} MB")
    assert median < 0.050, f"/healthz median {median * 1000:.0f} ms under the flood"
    # The server reads the socket no faster than it serves it: the flood waits in the
    # client's TCP buffers, not in the worker's memory.
    assert grown < MAX_RSS_GROWTH_MB, f"the worker grew by {grown:.0f} MB holding the flood"


MAX_RSS_GROWTH_MB = 64


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, children  # one worker (PROCESSES 1)
    return int(children[0])


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024
