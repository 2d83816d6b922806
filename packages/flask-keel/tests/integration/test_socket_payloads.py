"""Socket payloads against a real gunicorn: a message nested past the limit is refused before
it is decoded; one user's sockets are capped, and one socket flooding 812 KB messages leaves
/healthz fast. (That a payload gets the same 4xx as over HTTP is tested on the school's
named requests: tests/school/test_socket_answers.py.)"""

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


@pytest.fixture
def school(live_server, mariadb, mariadb_databases):
    """The shipped project on MariaDB (INT id columns), one worker."""
    return live_server(migrate=True, DATABASE={"main": mariadb_entry(mariadb, mariadb_databases("sockpay"))})


def signed_up(url: str, name: str) -> Client:
    client = Client(url)
    client.signup(name, "a long password", f"{name}@x.io")
    return client


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
