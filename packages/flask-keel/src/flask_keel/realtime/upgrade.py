"""Engine.IO connections that end cleanly however they fail, and a way to end them all.

Why (python-engineio 4.15.1, the newest release when this was written): while
a client upgrades from polling to websocket, the server sets
`Socket.upgrading`; the polling side is then held (every GET is answered NOOP
without taking anything from the socket's queue) and the websocket writer only
starts once the client's UPGRADE packet arrives. Two things break in that
window:

- `Socket.close(wait=True)` waits, without a bound, for the queue to be
  drained (`queue.join()`), and nothing drains it. socket.io-client 4.8 sends
  a message as soon as it can: over polling while the websocket probe is
  under way. A message over SOCKETIO_MAX_MESSAGE_SIZE makes the server answer
  that POST by disconnecting the socket (`Server.disconnect(sid)`), which
  blocks in that join for good; the client waits for the POST before it
  sends UPGRADE. Both ends hang, and the stuck request holds gunicorn's
  graceful stop for its whole timeout. Any other close during an upgrade
  (logout, the connect deadline) would block its caller the same way.
- In `Socket._websocket_handler` the packets of the upgrade handshake are
  read outside any try: an oversized (or malformed, or missing) packet
  there raises out of the handler with `upgrading` still set, so the polling
  side answers NOOP forever and the socket is never closed.

The same unbounded join also holds whoever closes a polling connection whose
client left without polling again: ConnectDeadline's sweeper (connections.py)
then stops for good, and no idle connection is closed after it.

`UpgradeSafeSocket` does not wait while upgrading (and waits a bounded time
otherwise), and turns a failed upgrade into a plain close: the polling side
gets the CLOSE packet (or a 400 once the socket is gone), the websocket a
close frame. `install()` gives it to every connection of a server; it also
keeps, per process, the servers and their path prefixes, so that a stopping
worker (app.gunicorn_worker) can tell every connection to close
(`close_connections`) and knows which requests are Socket.IO's
(`is_realtime_path`).
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from typing import Any

from engineio import socket as engineio_socket

log = logging.getLogger(__name__)

# The most a close waits for its client to take the CLOSE packet (a polling client's
# next GET comes at once; one that left never comes).
CLOSE_FLUSH_SECONDS = 1.0

# Engine.IO server -> the path prefix it is served under, for this process.
_servers: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


class UpgradeSafeSocket(engineio_socket.Socket):
    def close(self, wait=True, abort=False, reason=None):
        closing_now = not self.closed and not self.closing
        super().close(wait=False, abort=abort, reason=reason)
        # During an upgrade nothing takes packets off the queue until the upgrade ends.
        if wait and closing_now and not self.upgrading:
            _join(self.queue, CLOSE_FLUSH_SECONDS)

    def _websocket_handler(self, ws):
        try:
            return super()._websocket_handler(ws)
        except Exception as exc:  # only the upgrade handshake lets anything out
            if not self.upgrading:
                raise
            log.info("engine.io %s: websocket upgrade failed (%s); connection closed", self.sid, exc)
            self.upgrading = False  # the polling side takes the CLOSE packet
            self.close(wait=False, reason=self.server.reason.TRANSPORT_ERROR)
            with contextlib.suppress(Exception):  # the client may have gone already
                ws.close()
            return []


def _join(queue: Any, timeout: float) -> None:
    """`queue.join()`, bounded: gevent's queue takes a timeout, the standard library's does not."""
    done = getattr(queue, "all_tasks_done", None)
    if done is None:
        queue.join(timeout=timeout)
        return
    with done:
        done.wait_for(lambda: not queue.unfinished_tasks, timeout)


def install(socketio: Any, prefix: str, socket_class: type[UpgradeSafeSocket] = UpgradeSafeSocket) -> None:
    """Give every Engine.IO connection of this Flask-SocketIO server an UpgradeSafeSocket
    (or `socket_class`, a subclass of it: realtime.budget's PacedSocket)."""
    eio = socketio.server.eio
    on_connect = eio.handlers["connect"]

    def connect(eio_sid: str, environ: dict[str, Any], *args: Any) -> Any:
        # Called by python-engineio right after it made the socket, before it serves anything.
        sock = eio.sockets.get(eio_sid)
        if type(sock) is engineio_socket.Socket:
            sock.__class__ = socket_class
        return on_connect(eio_sid, environ, *args)

    eio.on("connect", connect)
    _servers[eio] = prefix
    global _prefixes
    _prefixes = tuple({*_prefixes, prefix})


# Every prefix a server was installed on in this process, for the gunicorn worker's test
# on each request: a tuple for str.startswith instead of a walk over the weak dictionary
# (which cost ~3% of a small JSON response). A prefix outlives its server; a worker
# has one app, and a test process only asks this of servers it stops.
_prefixes: tuple[str, ...] = ()


def is_realtime_path(path: str) -> bool:
    return path.startswith(_prefixes)


def close_connections() -> int:
    """Tell every open Engine.IO connection of this process to close (without waiting); how many.

    The transport is closed (a websocket close frame, an empty answer to the poll) without
    Engine.IO's CLOSE packet, as the JavaScript engine.io server does when it shuts down:
    python-socketio's client takes that packet for a disconnection it must not undo, and
    would not reconnect to another instance.
    """
    told = 0
    for eio in list(_servers.keys()):
        for sock in list(eio.sockets.values()):
            if sock.closed or sock.closing:
                continue
            try:
                sock.close(wait=False, abort=True, reason=eio.reason.SERVER_DISCONNECT)
                told += 1
            except Exception:
                log.exception("engine.io %s: closing failed", sock.sid)
    return told
