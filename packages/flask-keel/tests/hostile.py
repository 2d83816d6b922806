"""Hostile clients for the tests: one address holding many slow or idle connections.

Each crowd runs in a thread of its own, from a loopback source address of its
own (127.0.0.2, ...: every 127/8 address reaches the server on 127.0.0.1, and
the server sees them as another client), keeps `target` connections open,
re-opening any the server closes (at most `reopen_per_second`), and records
what the server did to them.
"""

from __future__ import annotations

import base64
import os
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Connection:
    sock: socket.socket
    opened: float
    received: bytes = b""
    closed_at: float | None = None
    sent_at: float = 0.0


@dataclass
class CrowdReport:
    opened: int = 0
    refused_429: int = 0  # answered "429 Too Many Requests" at once
    timed_out_408: int = 0  # answered "408 Request Timeout"
    closed_by_server: int = 0
    max_open: int = 0  # the most connections the server kept open at once (past its first second)
    lifetimes: list[float] = field(default_factory=list)  # seconds each accepted connection lived


class Crowd(threading.Thread):
    def __init__(self, port: int, source: str, target: int, reopen_per_second: int = 400):
        super().__init__(daemon=True)
        self.port = port
        self.source = source
        self.target = target
        self.reopen_per_second = reopen_per_second
        self.selector = selectors.DefaultSelector()
        self.connections: dict[int, Connection] = {}
        self.report = CrowdReport()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    # what each kind of crowd sends ------------------------------------------------------
    def greeting(self) -> bytes:
        raise NotImplementedError

    def on_data(self, connection: Connection) -> None:
        pass

    def tick(self, connection: Connection, now: float) -> None:
        pass

    # the loop --------------------------------------------------------------------------
    def open_one(self) -> None:
        sock = socket.socket()
        sock.bind((self.source, 0))
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", self.port))
            sock.sendall(self.greeting())
        except OSError:
            sock.close()
            return
        sock.setblocking(False)
        connection = Connection(sock, time.monotonic())
        self.connections[sock.fileno()] = connection
        self.selector.register(sock, selectors.EVENT_READ, connection)
        self.report.opened += 1

    def close(self, connection: Connection, by_server: bool) -> None:
        self.selector.unregister(connection.sock)
        self.connections.pop(connection.sock.fileno(), None)
        connection.sock.close()
        lifetime = time.monotonic() - connection.opened
        head = connection.received[:16]
        if head.startswith(b"HTTP/1.1 429"):
            self.report.refused_429 += 1
            return
        if b" 408 " in connection.received[:64]:
            self.report.timed_out_408 += 1
        if by_server:
            self.report.closed_by_server += 1
        self.report.lifetimes.append(lifetime)

    def run(self) -> None:
        started = time.monotonic()
        budget = 0.0
        last = started
        while not self.stopping.is_set():
            now = time.monotonic()
            budget = min(budget + (now - last) * self.reopen_per_second, self.target)
            last = now
            while len(self.connections) < self.target and budget >= 1:
                self.open_one()
                budget -= 1
            for key, _ in self.selector.select(timeout=0.05):
                connection = key.data
                try:
                    data = connection.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.close(connection, by_server=True)
                    continue
                connection.received += data
                self.on_data(connection)
            for connection in list(self.connections.values()):
                self.tick(connection, now)
            if now - started > 1.0:
                self.report.max_open = max(self.report.max_open, self.held_now())
        for connection in list(self.connections.values()):
            self.close(connection, by_server=False)

    def held_now(self) -> int:
        """Connections the server holds now: open for over half a second and not refused."""
        now = time.monotonic()
        return sum(1 for connection in list(self.connections.values())
                   if now - connection.opened > 0.5 and not connection.received.startswith(b"HTTP/1.1 429"))

    def stop(self) -> CrowdReport:
        self.stopping.set()
        self.join(30)
        return self.report

    def __enter__(self) -> Crowd:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class SlowBodies(Crowd):
    """POST /login promising a body just under the size limit (a larger one is refused
    at once), then sending one byte every `interval` seconds."""

    interval = 2.0
    length = 60_000

    def greeting(self) -> bytes:
        return (b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: %d\r\n\r\nu" % self.length)

    def tick(self, connection: Connection, now: float) -> None:
        if now - connection.sent_at >= self.interval and not connection.received:
            connection.sent_at = now
            try:
                connection.sock.send(b"x")
            except OSError:
                pass


class IdleWebsockets(Crowd):
    """Engine.IO websockets that answer every ping and never connect a namespace."""

    def greeting(self) -> bytes:
        key = base64.b64encode(os.urandom(16))
        return (b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                b"\r\nSec-WebSocket-Version: 13\r\n\r\n")

    def on_data(self, connection: Connection) -> None:
        # Answer each ping frame ("2") with a masked pong ("3"); frames are read loosely:
        # the server's are small, unmasked text frames.
        if connection.received.endswith(b"\x81\x012"):
            try:
                connection.sock.send(b"\x81\x81" + b"\x00\x00\x00\x00" + b"3")
            except OSError:
                pass
