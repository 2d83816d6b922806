"""Real Socket.IO clients against a live gunicorn + gevent: the official JavaScript
client (socket.io-client 4.8, run by Node from tests/js/) sending an oversized
message while it upgrades from polling to websocket, and a SIGTERM with
websocket, polling and half-upgraded connections open.

Node and npm are required (the tests fail, never skip, without them); the npm
packages are installed from tests/js/package-lock.json when missing.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import socketio
import websocket

from flask_keel.client import Client
from flask_keel.testing import wait_until

pytestmark = pytest.mark.integration

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "upgrade_oversize.mjs"
MAX_MESSAGE = 1024 * 1024  # SOCKETIO_MAX_MESSAGE_SIZE's default
OVERSIZED = MAX_MESSAGE + MAX_MESSAGE // 2
STOP_WITHIN = 5.0  # seconds, with GRACEFUL_TIMEOUT 30
# The JS client's own bound on one run (SIO_TIMEOUT); a connection still open then is reported hung.
NODE_RUN_SECONDS = 6


@pytest.fixture(scope="session")
def socketio_js():
    """Runs tests/js/upgrade_oversize.mjs; returns its JSON lines. Installs the npm packages once."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are required for the socket.io-client tests (Node 18 or later); install them",
                    pytrace=False)
    if not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
        result = subprocess.run([npm, "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"], cwd=JS_DIR,
                                capture_output=True, text=True, timeout=300)
        if result.returncode:
            pytest.fail(f"`npm ci --prefix tests/js` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}",
                        pytrace=False)

    def run(url: str, cookie: str, token: str, when: str, size: int = OVERSIZED) -> list[dict]:
        env = {**os.environ, "SIO_WHEN": when, "SIO_SIZE": str(size), "SIO_TIMEOUT": str(NODE_RUN_SECONDS)}
        result = subprocess.run([node, str(SCRIPT), url, cookie, token], cwd=JS_DIR, env=env, capture_output=True,
                                text=True, timeout=NODE_RUN_SECONDS + 15)
        assert result.returncode == 0, result.stderr
        events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        assert any(event["event"] == "summary" for event in events), (events, result.stderr)
        return events

    return run


def summary_of(events: list[dict]) -> dict:
    return next(event for event in events if event["event"] == "summary")


def browser_login(url: str, name: str) -> tuple[requests.Session, str, str]:
    """Sign up as a browser does: the session cookie and the CSRF token a page would have."""
    browser = requests.Session()
    token = browser.get(url + "/ws/csrf", timeout=10).json()["csrf_token"]
    response = browser.post(url + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10,
                            json={"username": name, "password": "a long password", "email": f"{name}@x.io"})
    assert response.status_code == 201, response.text
    return browser, f"session={browser.cookies.get('session')}", response.json()["csrf_token"]


def signed_up(url: str, name: str) -> Client:
    client = Client(url)
    client.signup(name, "a long password", f"{name}@x.io")
    assert client.connected
    return client


def stop_and_time(server) -> tuple[int, float]:
    """SIGTERM; the exit status and the seconds it took. A server still running after
    STOP_WITHIN + 5 s is killed (and reported as such)."""
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        status = server.process.wait(timeout=STOP_WITHIN + 5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        pytest.fail(f"SIGTERM did not stop the server within {STOP_WITHIN + 5}s:\n{server.log()[-3000:]}",
                    pytrace=False)
    return status, time.monotonic() - started


def test_oversized_message_during_the_upgrade_never_hangs(live_server, socketio_js):
    server = live_server(migrate=True, SERVER_ENV={"GRACEFUL_TIMEOUT": 30, "SOCKETIO_POLLING": True})
    browser, cookie, token = browser_login(server.url, "ada")
    browser.close()  # the page's socket below carries the same cookie
    bystander = signed_up(server.url, "sam")

    healthy = summary_of(socketio_js(server.url, cookie, token, "none"))
    assert healthy["connected"] and healthy["upgraded"] and not healthy["hung"], healthy

    for run in range(5):
        # Sent over polling just as the websocket probe opens: the server is mid-upgrade.
        events = socketio_js(server.url, cookie, token, "probe")
        summary = summary_of(events)
        assert summary["connected"] and summary["sent"], events
        assert not summary["hung"], f"run {run}: the connection hung:\n{events}"
        assert summary["reason"] in {"transport close", "transport error"}, events
        assert summary["elapsed"] < 3000, events
        # The server carries on: another client on it is served, over its own connection.
        answer = bystander.sio.call("rpc", {"name": "whoami"}, timeout=5)
        assert answer["ok"] is True and answer["result"]["username"] == "sam", answer
        again = [event for event in socketio_js(server.url, cookie, token, "none") if event["event"] == "ack"]
        assert again and again[0]["ok"] is True and again[0]["username"] == "ada", again

    bystander.sio.reconnection = False
    status, seconds = stop_and_time(server)
    print(f"SIGTERM after 5 oversized upgrades: exit {status} in {seconds:.2f}s")
    assert status == 0
    assert seconds < STOP_WITHIN, f"SIGTERM took {seconds:.1f}s"


@pytest.mark.parametrize("when", ["upgrading", "upgraded", "polling"])
def test_oversized_message_anywhere_else_closes_that_connection(live_server, socketio_js, when):
    server = live_server(migrate=True, SERVER_ENV={"SOCKETIO_POLLING": True})
    browser, cookie, token = browser_login(server.url, "ada")
    browser.close()
    bystander = signed_up(server.url, "sam")
    events = socketio_js(server.url, cookie, token, when)
    summary = summary_of(events)
    assert summary["sent"] and not summary["hung"] and summary["elapsed"] < 3000, events
    assert summary["reason"] in {"transport close", "transport error"}, events
    assert bystander.send_request("whoami")["username"] == "sam"
    # A message just under the cap is served as ever.
    fits = socketio_js(server.url, cookie, token, when, size=MAX_MESSAGE - 1024)
    assert [event["ok"] for event in fits if event["event"] == "ack"] == [True], fits


def raw_handshake(url: str, cookie: str, token: str) -> str:
    """An Engine.IO polling connection joined to the namespace: its sid."""
    session = requests.Session()
    session.headers["Cookie"] = cookie
    opened = session.get(url + "/socket.io/?EIO=4&transport=polling", timeout=5)
    sid = json.loads(opened.text[1:])["sid"]
    joined = session.post(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", timeout=5,
                          data="40" + json.dumps({"csrf_token": token}))
    assert joined.status_code == 200
    assert session.get(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", timeout=5).text.startswith("40")
    return sid


def oversized_in_the_handshake(url: str, cookie: str, token: str, instead_of: str) -> tuple[int, bytes, str]:
    """A client that sends an oversized message in place of the probe or of the UPGRADE packet:
    the close code its websocket gets, and what its polling side gets next."""
    sid = raw_handshake(url, cookie, token)
    ws = websocket.create_connection(url.replace("http:", "ws:") + f"/socket.io/?EIO=4&transport=websocket&sid={sid}",
                                     header=[f"Cookie: {cookie}"], timeout=5)
    if instead_of == "upgrade":
        ws.send("2probe")
        assert ws.recv() == "3probe"
    ws.send("4" + "x" * OVERSIZED)
    opcode, data = ws.recv_data()
    ws.close()
    polled = requests.get(url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", headers={"Cookie": cookie},
                          timeout=5)
    return opcode, data, polled.text


@pytest.mark.parametrize("instead_of", ["probe", "upgrade"])
def test_oversized_packet_in_the_upgrade_handshake_closes_both_sides(live_server, instead_of):
    server = live_server(migrate=True, SERVER_ENV={"SOCKETIO_POLLING": True})
    browser, cookie, token = browser_login(server.url, "ada")
    browser.close()
    opcode, data, polled = oversized_in_the_handshake(server.url, cookie, token, instead_of)
    assert opcode == websocket.ABNF.OPCODE_CLOSE and data[:2] == b"\x03\xe8", (opcode, data[:40])
    # Not NOOP for ever: the polling side is closed too.
    assert polled != "6" and ("disconnected" in polled or "Invalid session" in polled or polled.startswith("1")), polled
    assert "packet is too large" in server.log()
    assert "Traceback" not in server.log()


def test_a_polling_client_that_left_does_not_stop_the_connect_deadline(live_server):
    server = live_server(migrate=True, SERVER_ENV={"SOCKETIO_POLLING": True},
                         FLASK={"CONFIG": {"SOCKETIO_CONNECT_TIMEOUT": 2}})
    # A polling handshake, then nothing: closing it finds nobody to take the CLOSE packet.
    assert requests.get(server.url + "/socket.io/?EIO=4&transport=polling", timeout=5).status_code == 200
    time.sleep(3.5)  # its deadline has passed and the sweeper has closed it
    idle = websocket.create_connection(server.url.replace("http:", "ws:") + "/socket.io/?EIO=4&transport=websocket",
                                       timeout=8)
    assert idle.recv().startswith("0")
    started = time.monotonic()
    frames = []
    while not frames or frames[-1][0] != websocket.ABNF.OPCODE_CLOSE:  # a timeout ends this with an error
        frames.append(idle.recv_data())
    # A connection that joins no namespace is closed at its deadline (the CLOSE packet, then the close frame).
    assert time.monotonic() - started < 5, frames
    assert (websocket.ABNF.OPCODE_TEXT, b"1") in frames, frames
    idle.close()


def half_upgraded(url: str, cookie: str, token: str) -> websocket.WebSocket:
    """A websocket that answered the probe and never sends UPGRADE: held mid-upgrade."""
    sid = raw_handshake(url, cookie, token)
    ws = websocket.create_connection(url.replace("http:", "ws:") + f"/socket.io/?EIO=4&transport=websocket&sid={sid}",
                                     header=[f"Cookie: {cookie}"], timeout=15)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    return ws


def trickled_post(port: int, path: str, body: bytes, headers: dict[str, str], before: threading.Event,
                  result: dict) -> None:
    """POST `body` in pieces: half before `before` is set, the rest over the next 1.5 s."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        connection.putrequest("POST", path)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders()
        half = len(body) // 2
        connection.send(body[:half])
        result["started"] = time.monotonic()
        before.wait(10)
        for index in range(half, len(body), max(1, (len(body) - half) // 5)):
            time.sleep(0.3)
            connection.send(body[index:index + max(1, (len(body) - half) // 5)])
        response = connection.getresponse()
        result["status"] = response.status
        result["body"] = json.loads(response.read())
        result["done"] = time.monotonic()
        connection.close()
    except Exception as exc:  # noqa: BLE001 - reported by the test
        result["error"] = repr(exc)


def test_sigterm_with_open_socketio_connections_stops_at_once(live_server, socketio_js):
    server = live_server(migrate=True, SERVER_ENV={"GRACEFUL_TIMEOUT": 30, "SOCKETIO_POLLING": True})
    ada = signed_up(server.url, f"ada{uuid.uuid4().hex[:6]}")
    websockets = [ada] + [ada.clone() for _ in range(19)]
    assert all(client.connected for client in websockets)
    polling = socketio.Client(http_session=ada.http, reconnection=False)
    polling.connect(server.url, auth={"csrf_token": ada._csrf_token}, transports=["polling"], wait_timeout=10)
    assert polling.transport() == "polling"
    browser, cookie, token = browser_login(server.url, "bea")
    stuck = [half_upgraded(server.url, cookie, token) for _ in range(2)]
    assert ada.send_request("whoami")["username"] == ada.user["username"]

    sigterm = threading.Event()
    slow: dict = {}
    body = json.dumps({"pad": "y" * 2000}).encode()
    writer = threading.Thread(target=trickled_post, args=(server.port, "/ws/ping", body, {
        "Content-Type": "application/json", "X-CSRFToken": token, "Cookie": cookie}, sigterm, slow))
    writer.start()
    assert wait_until(lambda: "started" in slow or "error" in slow, timeout=5), slow
    time.sleep(0.2)  # the request is in the app, reading its body

    for client in websockets:
        client.sio.reconnection = False
    sigterm.set()
    status, seconds = stop_and_time(server)
    print(f"SIGTERM with 20 websockets, 1 polling, 2 half-upgraded: exit {status} in {seconds:.2f}s")
    writer.join(10)

    assert status == 0
    assert seconds < STOP_WITHIN, f"SIGTERM took {seconds:.1f}s"
    # The plain HTTP request in flight was served to the end.
    assert slow.get("status") == 200 and slow["body"].get("pong") is True, slow
    assert slow["done"] - slow["started"] > 1.0  # it really was in flight across the stop
    assert wait_until(lambda: not any(client.connected for client in websockets) and not polling.connected,
                      timeout=3)
    for ws in stuck:
        ws.close()
    log = server.log()
    assert "Worker graceful timeout" not in log
    assert "stopping: told" in log and "cut off 2 Socket.IO requests" in log
    assert "Traceback" not in log
    for client in websockets:
        client.sio.shutdown()
    polling.shutdown()
    browser.close()


def test_a_disconnect_during_the_upgrade_does_not_wait_for_it(live_server):
    """python-engineio's Socket.close(wait=True) joins a queue that nothing drains while
    the socket upgrades (UPSTREAM.md, 1): the request that disconnects would never end."""
    server = live_server(migrate=True, SERVER_ENV={"SOCKETIO_POLLING": True})
    browser, cookie, token = browser_login(server.url, "ada")
    browser.close()
    sid = raw_handshake(server.url, cookie, token)
    ws = websocket.create_connection(
        server.url.replace("http:", "ws:") + f"/socket.io/?EIO=4&transport=websocket&sid={sid}",
        header=[f"Cookie: {cookie}"], timeout=15)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"  # upgrading: the polling side is held; UPGRADE never comes
        started = time.monotonic()
        # Over SOCKETIO_MAX_MESSAGE_SIZE: the server disconnects the socket from inside this POST.
        answer = requests.post(server.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}",
                               headers={"Cookie": cookie}, data="4" + "x" * OVERSIZED, timeout=8)
        assert answer.status_code == 400 and time.monotonic() - started < 2
    finally:
        ws.close()
