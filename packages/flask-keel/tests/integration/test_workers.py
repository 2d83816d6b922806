"""Socket.IO across several gunicorn worker processes, against a real `python -m app serve`.

With SERVICES.redis set, Socket.IO runs over websockets only and gunicorn runs several
workers behind one port; Redis is the message queue that carries every emit, and every
room disconnect, to every process (flask_keel/workers.py, flask_keel/realtime). Sessions are on Redis
too, so a login made through one worker is good on the other.

Here one server with SERVER_ENV.PROCESSES 2 holds 200 websocket clients of 20 users (10
sockets per login: each user signs up once over HTTP, nine more clients share its
cookie and CSRF token), and the tests show:

1. the sockets are spread over both workers, seen from the operating system: the
   ESTABLISHED TCP connections on the server port that each worker process holds
   (its /proc/<pid>/fd socket inodes, matched in /proc/net/tcp);
2. a push to one user, from the CLI (`realtime notify`), from a view (`push.me` over
   HTTP) and from another process (`emitter(...).notify`), reaches every
   socket of that user, on either worker, and no socket of anyone else;
3. a broadcast (the CLI and the emitter) reaches all 200 sockets, once each;
4. named requests answer over sockets held by either worker, and over HTTP
   connections accepted by either worker;
5. an HTTP logout ends every socket of that login on both workers, within a bounded
   wait, and nobody else's;
6. a worker killed with SIGKILL is replaced by gunicorn, and the clients it held
   reconnect by themselves and receive pushes again.

Opening 200 sockets takes seconds, so the tests share one server and its clients and
run in file order: the last two end sockets on purpose.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from flask_keel.client import Client
from flask_keel.config import load_settings
from flask_keel.realtime import emitter
from flask_keel.testing import LiveServer, redis_entry, start_live_server, wait_until
from flask_keel.testing.workers import established_peers, local_port, wait_for_workers, worker_pids
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

WORKERS = 2
USERS = 20
PER_USER = 10
TOTAL = USERS * PER_USER
# Each worker must hold at least this many of the 200 sockets: a real spread, not one stray.
AT_LEAST_PER_WORKER = 20
PASSWORD = "a long password"

# Runs in a process of its own: what a job or a cron script would do to push.
EMIT_FROM_ANOTHER_PROCESS = (
    "import json, sys\n"
    "from flask_keel.config import load_settings\n"
    "from flask_keel.realtime import emitter\n"
    "emitter(load_settings()).notify(int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]))\n"
)


# -- one server, 200 clients ------------------------------------------------------------------

@dataclass
class Cluster:
    server: LiveServer
    config: Path
    # User u's sockets are clients[u * PER_USER:(u + 1) * PER_USER]; the first one signed up.
    clients: list[Client]
    inbox: list[list[tuple[str, Any]]] = field(default_factory=lambda: [[] for _ in range(TOTAL)])
    connects: list[int] = field(default_factory=lambda: [1] * TOTAL)  # each is connected once at the start
    disconnects: list[list[str]] = field(default_factory=lambda: [[] for _ in range(TOTAL)])
    logged_out: set[int] = field(default_factory=set)  # users

    def __post_init__(self) -> None:
        for index, client in enumerate(self.clients):
            # Every event but connect/disconnect, with its name; "*" is python-socketio's catch-all.
            client.on("*", lambda event, data, index=index: self.inbox[index].append((event, data)))
            client.sio.on("connect", handler=lambda index=index: self._connected(index))
            client.sio.on("disconnect", handler=lambda reason=None, index=index:
                          self.disconnects[index].append(str(reason)))

    def _connected(self, index: int) -> None:
        self.connects[index] += 1

    @property
    def port(self) -> int:
        return self.server.port

    def workers(self) -> set[int]:
        return worker_pids(self.server.process.pid)

    def user_id(self, user: int) -> int:
        return self.clients[user * PER_USER].user["id"]

    def login(self, user: int) -> Client:
        return self.clients[user * PER_USER]

    @staticmethod
    def sockets_of(user: int) -> range:
        return range(user * PER_USER, (user + 1) * PER_USER)

    def alive(self) -> list[int]:
        return [index for index in range(TOTAL) if index // PER_USER not in self.logged_out]

    def placement(self) -> dict[int, int]:
        """Client index -> pid of the worker holding the server end of its websocket."""
        held = {pid: established_peers(pid, self.port) for pid in self.workers()}
        placed = {}
        for index, client in enumerate(self.clients):
            port = local_port(client)
            for pid, peers in held.items():
                if port is not None and port in peers:
                    placed[index] = pid
        return placed

    def spanning_users(self, placement: dict[int, int]) -> list[int]:
        """Users (still logged in) with sockets on more than one worker."""
        return [user for user in range(USERS) if user not in self.logged_out
                and len({placement.get(index) for index in self.sockets_of(user)} - {None}) > 1]

    def clear(self) -> None:
        for received in self.inbox:
            received.clear()

    def events(self, index: int, event: str) -> list[Any]:
        return [data for name, data in list(self.inbox[index]) if name == event]

    def run(self, *args: str) -> str:
        """A command in a process of its own, on the server's config; its output."""
        result = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                                timeout=60, env={**os.environ, "APP_CONFIG": str(self.config)})
        assert result.returncode == 0, result.stderr
        return result.stdout


def open_user(url: str, user: int, slots: list[Client | None]) -> None:
    """Sign the user up (its first socket), then open nine more sockets on that login."""
    login = slots[user * PER_USER] = Client(url)
    login.signup(f"worker{user}", PASSWORD, f"worker{user}@workers.test")
    for offset in range(1, PER_USER):
        slots[user * PER_USER + offset] = login.clone()  # same cookie and CSRF token, its own socket


def close_all(clients: list[Client]) -> None:
    with ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda client: client.close(), clients))


@pytest.fixture(scope="module")
def cluster(redis_server, tmp_path_factory):
    """A server with two workers, Redis as message queue and session store, and 200 clients.

    Started with flask_keel.testing's start_live_server rather than the `live_server` fixture,
    which starts a server per test: these tests share one.
    """
    server = start_live_server(
        tmp_path_factory.mktemp("workers"), "workers", migrate=True, root=REPO_ROOT,
        SERVER_ENV={
            "PROCESSES": WORKERS,
            # Both workers must see every login: sessions in Redis, not in a process or a folder.
            "SESSION": "redis",
            # A channel and key prefix of this test's own on the shared Redis.
            "APP_NAME": f"wk{uuid.uuid4().hex[:8]}",
            # Every client here is 127.0.0.1; the per-address bound (256 per worker) is tested elsewhere.
            "CLIENT_CONNECTIONS": 0,
        },
        SERVICES={"redis": redis_entry(redis_server)})
    slots: list[Client | None] = [None] * TOTAL
    try:
        # /healthz answered from one worker; wait for both before connecting anyone.
        wait_for_workers(server, WORKERS)
        started = time.monotonic()
        # All users at once, from threads: connections arrive in overlapping bursts, so
        # both workers (both waiting in accept on the one listening socket) take some.
        # One after the other, the kernel could hand every connection to the same one.
        with ThreadPoolExecutor(USERS) as pool:
            list(pool.map(lambda user: open_user(server.url, user, slots), range(USERS)))
        clients = [client for client in slots if client is not None]
        assert len(clients) == TOTAL and all(client.connected for client in clients)
        print(f"\n{TOTAL} sockets of {USERS} users opened in {time.monotonic() - started:.1f}s")
        yield Cluster(server, server.config, clients)
    finally:
        close_all([client for client in slots if client is not None])
        server.stop()


# -- the tests --------------------------------------------------------------------------------

def test_sockets_are_spread_over_both_workers(cluster):
    workers = cluster.workers()
    assert len(workers) == WORKERS, f"gunicorn runs {len(workers)} workers: {workers}"
    placement = cluster.placement()
    # Every client's websocket is an ESTABLISHED connection held by exactly one worker.
    assert len(placement) == TOTAL, f"{TOTAL - len(placement)} sockets held by no worker"
    sockets = Counter(placement.values())
    for pid in sorted(workers):
        established = established_peers(pid, cluster.port)  # websockets and HTTP keep-alive connections
        print(f"worker {pid}: {len(established)} ESTABLISHED TCP connections on port {cluster.port}, "
              f"{sockets[pid]} of them websockets of these clients")
    print(f"users with sockets on both workers: {len(cluster.spanning_users(placement))} of {USERS}")
    for pid in workers:
        assert sockets[pid] >= AT_LEAST_PER_WORKER, f"worker {pid} holds only {sockets[pid]} sockets"
        assert len(established_peers(pid, cluster.port)) >= AT_LEAST_PER_WORKER


def test_a_push_to_one_user_reaches_all_its_sockets_and_nobody_else(cluster):
    placement = cluster.placement()
    spanning = cluster.spanning_users(placement)
    # Users whose sockets are on both workers: a push reaching all 10 crossed processes.
    assert spanning, "no user has sockets on both workers"
    target = spanning[0]
    cluster.clear()
    started = time.monotonic()

    # From the command line: a process that serves nobody, through Redis.
    out = cluster.run("-m", "app", "realtime", "notify", "--user", str(cluster.user_id(target)),
                      "note", json.dumps({"via": "cli"}))
    assert f"user {cluster.user_id(target)}" in out
    # From a view: push.me over HTTP (not over the socket), answered by whichever worker.
    assert cluster.login(target).post("/ws/push.me", {"event": "note", "data": {"via": "view"}}) == {"sent": True}
    # From another process, as a job would: emitter(load_settings()).notify(...).
    cluster.run("-c", EMIT_FROM_ANOTHER_PROCESS, str(cluster.user_id(target)), "note", json.dumps({"via": "process"}))
    # (The framework's own pushes only: the school demo's, such as an enrolment telling the
    # teacher, go with the demo, and this suite must pass without it.)

    def delivered() -> bool:
        return all(len(cluster.events(index, "note")) >= 3 for index in cluster.sockets_of(target))

    assert wait_until(delivered, timeout=15), "a push missed some of its user's sockets"
    split = sorted(Counter(placement[index] for index in cluster.sockets_of(target)).values())
    print(f"pushes from the CLI, a view and another process reached the user's {PER_USER} sockets "
          f"in {time.monotonic() - started:.1f}s (user {target}'s sockets per worker: {split})")
    time.sleep(0.5)  # anything misrouted or duplicated would have arrived by now
    for index in range(TOTAL):
        if index in cluster.sockets_of(target):
            assert sorted(data["via"] for data in cluster.events(index, "note")) == ["cli", "process", "view"]
            assert [name for name, _ in cluster.inbox[index]] == ["note"] * 3
        else:
            assert cluster.inbox[index] == [], f"socket {index} of user {index // PER_USER} got {cluster.inbox[index]}"


def test_a_broadcast_reaches_all_200(cluster):
    cluster.clear()
    started = time.monotonic()
    # `realtime notify` with neither --user nor --room is a broadcast.
    assert "everyone" in cluster.run("-m", "app", "realtime", "notify", "announcement", json.dumps({"via": "cli"}))
    emitter(load_settings(cluster.config)).broadcast("announcement", {"via": "emitter"})
    assert wait_until(lambda: all(len(cluster.events(index, "announcement")) >= 2 for index in range(TOTAL)),
                      timeout=15), f"{sum(len(cluster.events(i, 'announcement')) < 2 for i in range(TOTAL))} missed"
    print(f"two broadcasts reached all {TOTAL} sockets in {time.monotonic() - started:.1f}s")
    time.sleep(0.5)
    for index in range(TOTAL):
        assert sorted(data["via"] for name, data in cluster.inbox[index]) == ["cli", "emitter"]


def test_named_requests_over_sockets_and_http_on_both_workers(cluster):
    placement = cluster.placement()
    answered: Counter[int] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def call(index: int) -> None:
        client = cluster.clients[index]
        try:
            assert client.send_request("whoami")["id"] == cluster.user_id(index // PER_USER)
            assert client.send_request("echo", {"i": index}) == {"echo": {"i": index}}
            with lock:
                answered[placement[index]] += 1
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=call, args=(index,)) for index in range(TOTAL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [], errors[:3]
    print(f"{2 * TOTAL} named requests over the sockets in {time.monotonic() - started:.1f}s, "
          f"per worker: {dict(answered)}")
    assert set(answered) == cluster.workers() and min(answered.values()) >= AT_LEAST_PER_WORKER

    # Over HTTP: connections opened together, each matched to the worker that accepted it
    # (the same /proc view), then a named request on each: POST /ws/<name>.
    connections = [http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=10) for _ in range(40)]
    try:
        with ThreadPoolExecutor(20) as pool:
            list(pool.map(lambda connection: connection.connect(), connections))

        def accepted_by() -> dict[int, int]:
            held = {pid: established_peers(pid, cluster.port) for pid in cluster.workers()}
            return {number: pid for number, connection in enumerate(connections) for pid, peers in held.items()
                    if connection.sock.getsockname()[1] in peers}

        assert wait_until(lambda: len(accepted_by()) == len(connections), timeout=10)
        by_worker = accepted_by()
        for number, connection in enumerate(connections):
            login = cluster.login(number % USERS)
            headers = {"Content-Type": "application/json", "X-CSRFToken": login._csrf_token,
                       "Cookie": "; ".join(f"{cookie.name}={cookie.value}" for cookie in login.http.cookies)}
            connection.request("POST", "/ws/echo", body=json.dumps({"n": number}), headers=headers)
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())) == (200, {"echo": {"n": number}})
            connection.request("POST", "/ws/whoami", body="null", headers=headers)
            response = connection.getresponse()
            assert response.status == 200 and json.loads(response.read())["id"] == login.user["id"]
        print(f"{2 * len(connections)} named requests over HTTP, connections per worker: "
              f"{dict(Counter(by_worker.values()))}")
        assert set(by_worker.values()) == cluster.workers()
    finally:
        for connection in connections:
            connection.close()


def test_logging_out_ends_that_logins_sockets_on_both_workers(cluster):
    placement = cluster.placement()
    spanning = cluster.spanning_users(placement)
    assert spanning, "no user has sockets on both workers"
    user = spanning[-1]
    sockets = list(cluster.sockets_of(user))
    ports = {local_port(cluster.clients[index]) for index in sockets}
    print(f"logging out user {user}: sockets per worker {dict(Counter(placement[i] for i in sockets))}")
    # The logout is a plain HTTP request; the clients keep their sockets open: the
    # server must end them, in the worker that answered and, through Redis, in the other.
    started = time.monotonic()
    assert cluster.login(user).post("/ws/logout") == {"logged_out": True}
    cluster.logged_out.add(user)
    assert wait_until(lambda: not any(cluster.clients[index].connected for index in sockets), timeout=10), \
        f"still connected: {[i for i in sockets if cluster.clients[i].connected]}"
    ended = time.monotonic() - started

    def held_by_a_worker() -> set[int]:
        return ports & set().union(*(established_peers(pid, cluster.port) for pid in cluster.workers()))

    # And the server closed its ends: no worker holds a connection of theirs any more.
    assert wait_until(lambda: not held_by_a_worker(), timeout=10), held_by_a_worker()
    print(f"all {PER_USER} sockets of the login were disconnected in {ended:.2f}s, "
          f"their TCP connections gone in {time.monotonic() - started:.2f}s")
    for index in sockets:
        assert "server disconnect" in cluster.disconnects[index], cluster.disconnects[index]

    others = cluster.alive()
    assert all(cluster.clients[index].connected for index in others)
    cluster.clear()
    emitter(load_settings(cluster.config)).broadcast("after_logout", {})
    assert wait_until(lambda: all(cluster.events(index, "after_logout") for index in others), timeout=15)
    time.sleep(0.5)
    # Told to go, they stay gone: no reconnection, nothing received.
    assert not any(cluster.clients[index].connected or cluster.inbox[index] for index in sockets)


def test_a_killed_worker_is_replaced_and_its_clients_reconnect(cluster):
    before = cluster.workers()
    placement = cluster.placement()
    alive = cluster.alive()
    assert all(index in placement for index in alive)
    victim = max(before, key=lambda pid: sum(placement[index] == pid for index in alive))
    orphans = [index for index in alive if placement[index] == victim]
    survivor = (before - {victim}).pop()
    connects = list(cluster.connects)
    print(f"killing worker {victim}, which holds {len(orphans)} sockets ({survivor} holds {len(alive) - len(orphans)})")

    started = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    # gunicorn's master reaps it and forks a new worker: two workers again, one new pid.
    def replaced_by_master() -> bool:
        now = cluster.workers()
        return len(now) == WORKERS and victim not in now

    assert wait_until(replaced_by_master, timeout=30), \
        f"workers now {cluster.workers()}:\n{cluster.server.log()[-3000:]}"
    replaced = time.monotonic() - started
    replacement = (cluster.workers() - before).pop()
    assert cluster.server.process.poll() is None  # the master lives on

    # The clients notice their connection died and reconnect by themselves (app.client's
    # reconnection), to whichever worker accepts; their login lives in Redis.
    def back() -> bool:
        return all(cluster.clients[index].connected and cluster.connects[index] > connects[index]
                   for index in orphans)

    assert wait_until(back, timeout=30), \
        f"{sum(not cluster.clients[i].connected for i in orphans)} of {len(orphans)} did not reconnect"
    reconnected = time.monotonic() - started
    assert all(cluster.clients[index].connected for index in alive)
    # Only the orphans reconnected: the survivor's sockets were never disturbed.
    assert all(cluster.connects[index] == connects[index] for index in alive if index not in orphans)
    assert wait_until(lambda: all(index in cluster.placement() for index in alive), timeout=10)
    now = cluster.placement()
    print(f"worker {replacement} replaced {victim} in {replaced:.1f}s; its {len(orphans)} clients were "
          f"connected again in {reconnected:.1f}s; sockets now per worker: {dict(Counter(now.values()))}")

    # And pushes reach them again: to a user who had sockets on the killed worker, and to all.
    user = orphans[0] // PER_USER
    cluster.clear()
    sender = emitter(load_settings(cluster.config))
    sender.notify(cluster.user_id(user), "note", {"after": "restart"})
    sender.broadcast("after_restart", {})
    assert wait_until(lambda: all(cluster.events(index, "note") for index in cluster.sockets_of(user))
                      and all(cluster.events(index, "after_restart") for index in alive), timeout=15)
    time.sleep(0.5)
    for index in alive:
        expected = ["after_restart", "note"] if index // PER_USER == user else ["after_restart"]
        assert sorted(name for name, _ in cluster.inbox[index]) == expected
