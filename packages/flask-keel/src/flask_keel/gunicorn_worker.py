"""gunicorn's gevent worker, with a bound on the connections one client address holds.

A gevent worker serves up to `worker_connections` connections at once. Without
a bound per address, one client that opens that many (slow request bodies,
idle websockets) leaves none for anyone else: health checks time out and the
orchestrator restarts a process that is only busy being attacked. Here a
connection past SERVER_ENV.CLIENT_CONNECTIONS from one address is answered
`429 Too Many Requests` and closed at once, before anything is read from it.

Behind a proxy (TRUSTED_PROXIES > 0) every connection comes from the proxy, so
the bound is off for the proxies' addresses (TRUSTED_PROXY_NETWORKS) and the proxy
keeps it per client (docker/nginx.conf); any other peer is still bounded.

The worker also raises its open-file limit (the soft limit, up to the hard one)
so that `worker_connections` sockets fit: many systems start processes with a
soft limit of 1,024.

On SIGTERM gunicorn stops accepting and waits up to GRACEFUL_TIMEOUT for the
requests in flight. A Socket.IO connection is a request that never ends by
itself (a websocket, a long poll, or one hung mid-upgrade), so every stop
would take the whole timeout. Here, as soon as the worker begins to stop,
every Socket.IO connection of the process is told to close (its transport is
closed: clients reconnect, to another instance), and the Socket.IO requests
still open REALTIME_GRACE_SECONDS later are cut off (their socket is shut
down; a handler still running a grace later is killed). Plain HTTP requests
are left to finish as before. (gunicorn 27 runs neither worker_int nor
worker_exit on SIGTERM before that wait, hence the worker.)
"""

from __future__ import annotations

import contextlib
import logging
import resource
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable

import gevent
from gunicorn.workers.ggevent import GeventWorker

log = logging.getLogger("app.connections")

REFUSAL = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Retry-After: 5\r\nConnection: close\r\nContent-Length: 38\r\n\r\n"
           b"Too many connections from your address")
# Room for the listening sockets, log files, database and Redis pools beside the clients.
EXTRA_FILES = 512
LOG_EVERY_SECONDS = 30.0
# After a stopping worker tells its Socket.IO connections to close, the time they have
# to do so before they are cut off.
REALTIME_GRACE_SECONDS = 1.0
STOP_POLL_SECONDS = 0.1
# Loaded by the app in the worker (this module is imported by the master, before Flask).
REALTIME_MODULE = "flask_keel.realtime.upgrade"


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards `wanted` (never past the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


class ClientBoundGeventWorker(GeventWorker):
    """The gevent worker, refusing an address's connections past `per_client` (0: no bound)."""

    # Set by app.gunicorn_conf from SERVER_ENV before the workers fork. `unbounded`: whether an
    # address is a trusted proxy's, whose connections carry many clients.
    per_client = 0
    unbounded: Callable[[str], bool] = staticmethod(lambda _address: False)

    def init_process(self) -> None:
        self.held: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.last_logged = 0.0
        # The Socket.IO requests in flight: their greenlet -> (client socket, start time).
        self.realtime_requests: dict[gevent.Greenlet, tuple[socket.socket, float]] = {}
        self.stopping_realtime = False
        limit = raise_open_file_limit(self.worker_connections + EXTRA_FILES)
        if limit < self.worker_connections + EXTRA_FILES:
            log.warning("open-file limit %s is below worker_connections (%s) plus %s; raise `ulimit -n`",
                        limit, self.worker_connections, EXTRA_FILES)
        super().init_process()  # runs the worker until it stops

    def handle(self, listener, client, addr) -> None:
        address = addr[0] if isinstance(addr, tuple) and addr else None
        if not self.per_client or not address or self.unbounded(address):
            super().handle(listener, client, addr)
            return
        if self.held[address] >= self.per_client:
            self._refuse(client, address)
            return
        self.held[address] += 1
        try:
            super().handle(listener, client, addr)
        finally:
            self.held[address] -= 1
            if not self.held[address]:
                del self.held[address]

    def _refuse(self, client, address: str) -> None:
        self.refused[address] += 1
        try:
            client.settimeout(1.0)
            client.sendall(REFUSAL)
        except OSError:
            pass
        finally:
            client.close()
        now = time.monotonic()
        if now - self.last_logged >= LOG_EVERY_SECONDS:
            self.last_logged = now
            counts = ", ".join(f"{addr} ({count})" for addr, count in self.refused.most_common(5))
            self.refused.clear()
            log.warning("refused connections past %s per client address: %s", self.per_client, counts)

    # -- stopping with Socket.IO connections open ------------------------------------------

    def handle_request(self, listener_name, req, sock, addr):
        realtime = sys.modules.get(REALTIME_MODULE)
        if realtime is None or not realtime.is_realtime_path(req.path or ""):
            return super().handle_request(listener_name, req, sock, addr)
        current = gevent.getcurrent()
        self.realtime_requests[current] = (sock, time.monotonic())
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            self.realtime_requests.pop(current, None)

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        if not self.stopping_realtime:
            self.stopping_realtime = True
            gevent.spawn(self._stop_realtime)  # out of the signal handler, as gunicorn does for SIGQUIT

    def _stop_realtime(self) -> None:
        """Runs until the worker exits: connections opened meanwhile (clients reconnect until
        the listener closes) are told to close and cut off like the first ones."""
        realtime = sys.modules.get(REALTIME_MODULE)
        began = time.monotonic()
        shut: dict[gevent.Greenlet, float] = {}
        while True:
            told = realtime.close_connections() if realtime is not None else 0
            if told:
                log.info("stopping: told %s Socket.IO connections to close", told)
            now = time.monotonic()
            late = 0
            for greenlet, (client, since) in list(self.realtime_requests.items()):
                if greenlet not in shut:
                    if now - max(since, began) >= REALTIME_GRACE_SECONDS:
                        # The handler reads the end of its stream and finishes as usual.
                        shut[greenlet] = now
                        late += 1
                        with contextlib.suppress(OSError):
                            client.shutdown(socket.SHUT_RDWR)
                elif now - shut[greenlet] >= REALTIME_GRACE_SECONDS:
                    greenlet.kill(block=False)  # one blocked on something else than its socket
            if late:
                log.info("stopping: cut off %s Socket.IO requests still open after %ss", late,
                         REALTIME_GRACE_SECONDS)
            gevent.sleep(STOP_POLL_SECONDS)
