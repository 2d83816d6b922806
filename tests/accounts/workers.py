"""Which gunicorn worker holds a client's websocket, read from /proc (Linux): the tests that
end sockets "on every worker" first make sure sockets of the login sit on both."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flask_keel.client import Client

BURST = 8  # sockets opened at once, so that both workers (both in accept) take some


def worker_pids(master: int) -> set[int]:
    """The living children of gunicorn's master."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if int(ppid) == master and state != "Z":
            pids.add(int(entry))
    return pids


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for descriptor in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:["):-1]))
    return inodes


def _peer_ports(pid: int, port: int) -> set[int]:
    """Client ports of the ESTABLISHED connections to `port` that `pid` holds."""
    inodes, peers = _socket_inodes(pid), set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "01" and int(fields[9]) in inodes and int(fields[1].rsplit(":", 1)[1], 16) == port:
                peers.add(int(fields[2].rsplit(":", 1)[1], 16))
    return peers


def holders(server, clients: list[Client]) -> dict[int, int]:
    """Client index -> pid of the worker holding its websocket."""
    held = {pid: _peer_ports(pid, server.port) for pid in worker_pids(server.process.pid)}
    placed = {}
    for index, client in enumerate(clients):
        try:
            port = client.sio.eio.ws.sock.getsockname()[1]
        except (AttributeError, OSError):
            continue
        for pid, peers in held.items():
            if port in peers:
                placed[index] = pid
    return placed


def on_both_workers(server, login: Client) -> list[Client]:
    """The login's client and clones of it (each its own socket), until both workers hold some."""
    clients = [login]
    for _ in range(8):
        with ThreadPoolExecutor(BURST) as pool:
            clients += list(pool.map(lambda _: login.clone(), range(BURST)))
        if len(set(holders(server, clients).values())) == 2:
            return clients
    pytest.fail(f"{len(clients)} sockets, all on one worker: {holders(server, clients)}")
