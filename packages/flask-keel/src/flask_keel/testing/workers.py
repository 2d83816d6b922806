"""Which gunicorn worker holds a client's websocket, read from /proc (Linux): for tests that
check something happens "on every worker", after making sure sockets sit on each."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from flask_keel.testing.helpers import wait_until

if TYPE_CHECKING:
    from flask_keel.client import Client
    from flask_keel.testing.live import LiveServer

__all__ = ["established_peers", "holders", "local_port", "on_both_workers", "wait_for_workers", "worker_pids"]

# Sockets opened at once, so that both workers (both in accept) take some.
BURST = 8


def worker_pids(master: int) -> set[int]:
    """The living children of gunicorn's master (its workers); a killed one not yet reaped is a zombie."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]  # the name in (...) may hold spaces
        if int(ppid) == master and state != "Z":
            pids.add(int(entry))
    return pids


def wait_for_workers(server: LiveServer, count: int) -> None:
    """Until `server` has `count` workers: /healthz answers once the first is up, not all of
    them. Fails with the server's log after 30 s."""
    assert wait_until(lambda: len(worker_pids(server.process.pid)) == count, timeout=30), server.log()


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


def established_peers(pid: int, port: int) -> set[int]:
    """The peer (client) ports of the ESTABLISHED TCP connections on local `port` held by `pid`.

    Connections are matched by socket inode: the process holds the accepted socket as a
    file descriptor, which /proc/net/tcp lists with its addresses and state (01 = ESTABLISHED).
    """
    inodes = _socket_inodes(pid)
    peers = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if state == "01" and inode in inodes and int(local.rsplit(":", 1)[1], 16) == port:
                peers.add(int(remote.rsplit(":", 1)[1], 16))
    return peers


def local_port(client: Client) -> int | None:
    """The client end's port of the client's websocket (None while it has none)."""
    try:
        return client.sio.eio.ws.sock.getsockname()[1]
    except (AttributeError, OSError):
        return None


def holders(server, clients: list[Client]) -> dict[int, int]:
    """Client index -> pid of the worker holding its websocket."""
    held = {pid: established_peers(pid, server.port) for pid in worker_pids(server.process.pid)}
    placed = {}
    for index, client in enumerate(clients):
        port = local_port(client)
        for pid, peers in held.items():
            if port is not None and port in peers:
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
