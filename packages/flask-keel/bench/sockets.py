"""Socket.IO: RPC round trips per second, and broadcast fan-out latency."""

from __future__ import annotations

import statistics
import threading
import time

from flask_keel.client import Client
from flask_keel.realtime import Emitter


def login_clients(url: str, count: int, username: str) -> list[Client]:
    """`count` sockets on one login (logins cost a deliberately slow password hash each)."""
    first = Client(url)
    first.signup(username, "a long password", f"{username}@bench.test")
    clients = [first]
    while len(clients) < count:
        clients.append(first.clone())
    return clients


def plain_clients(url: str, count: int) -> list[Client]:
    """`count` sockets with no login, for the bare Flask-SocketIO baseline."""
    clients = []
    for _ in range(count):
        client = Client(url)
        client._reconnect_socket()  # noqa: SLF001 - the socket alone, as the template's clients have it
        clients.append(client)
    return clients


def rpc_rate(clients: list[Client], seconds: float) -> tuple[float, int]:
    """Calls per second with every client calling `ping` in a loop; and the failures."""
    counts = [0] * len(clients)
    failures = [0]
    stop = time.monotonic() + seconds

    def loop(index: int, client: Client) -> None:
        while time.monotonic() < stop:
            try:
                client.send_request("ping", index)
                counts[index] += 1
            except Exception:  # noqa: BLE001 - counted
                failures[0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(index, client)) for index, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started), failures[0]


def fan_out(clients: list[Client], emitter: Emitter, rounds: int = 5) -> dict[str, float]:
    """Broadcast `rounds` times; latency from emit to each client's handler, in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    received = [0]

    def handler(data) -> None:
        arrived = time.time()
        with lock:
            latencies.append((arrived - data["sent"]) * 1000)
            received[0] += 1

    for client in clients:
        client.on("bench", handler)
    for round_number in range(rounds):
        expected = (round_number + 1) * len(clients)
        emitter.broadcast("bench", {"sent": time.time()})
        deadline = time.monotonic() + 10
        while received[0] < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
    ordered = sorted(latencies)
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)],
        "delivered": len(ordered),
        "expected": rounds * len(clients),
    }
