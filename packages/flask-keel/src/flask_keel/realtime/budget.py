"""A socket's fair share of its process: a message-rate and byte budget per connection,
and the nesting check made before any decoder runs.

- Budget: each Engine.IO connection may send SOCKET_MESSAGES_PER_SECOND messages and
  SOCKET_BYTES_PER_SECOND bytes (FLASK.CONFIG), with a burst of twice the messages and
  of one SOCKETIO_MAX_MESSAGE_SIZE message. Past it, nothing is refused: the
  connection's reader waits until the budget allows the next message, so a client
  flooding 812 KB messages is slowed by TCP itself and takes no more of the worker
  than its budget, while every other request goes on. For TCP to push back, the
  websocket's reader must stop reading too: simple-websocket (python-engineio's
  websocket under gevent) reads frames into a list without bound, so a flood of 331
  messages was held in memory (268 MB) whatever the pace. Its socket is read here
  only while fewer than PENDING_MESSAGES whole messages wait.
- Nesting: a message nesting arrays or objects deeper than flask_keel.payloads.MAX_DEPTH
  is refused before python-socketio decodes it (its json.loads and packet walk recurse
  once per level; 1,000 levels raised RecursionError and left the socket open with no
  answer). An event that asked for an ack gets the 400 HTTP would answer; anything
  else closes the connection.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from engineio import packet as eio_packet

from flask_keel.payloads import MAX_DEPTH, nested_deeper_than
from flask_keel.realtime.upgrade import UpgradeSafeSocket

log = logging.getLogger(__name__)

DEFAULT_MESSAGES_PER_SECOND = 100.0
DEFAULT_BYTES_PER_SECOND = 256 * 1024.0

# A Socket.IO EVENT packet's head: type 2, an optional namespace, the optional ack id.
_EVENT_HEAD = re.compile(r"2(/[^,\[]*,)?([0-9]{1,12})?\[")
ENVELOPE_LEVELS = 2
PENDING_MESSAGES = 2
PENDING_POLL_SECONDS = 0.01
TOO_DEEP = {"ok": False, "status": 400, "error": "invalid_payload", "field": None, "request_id": None,
            "message": f"the body is nested too deeply (more than {MAX_DEPTH} levels)"}


class TokenBucket:
    """`rate` units a second, up to `burst` saved; `spend` says how long to wait first."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.level = burst
        self.at = time.monotonic()

    def spend(self, amount: float) -> float:
        now = time.monotonic()
        self.level = min(self.burst, self.level + (now - self.at) * self.rate)
        self.at = now
        self.level -= amount
        return 0.0 if self.level >= 0 else -self.level / self.rate


class SocketBudget:
    """What one connection may send: both buckets (a rate of 0: no bound), spent per message."""

    def __init__(self, messages_per_second: float, bytes_per_second: float, largest_message: int) -> None:
        self.messages = TokenBucket(messages_per_second, 2 * messages_per_second) if messages_per_second > 0 else None
        self.bytes = TokenBucket(bytes_per_second, max(bytes_per_second, largest_message)) \
            if bytes_per_second > 0 else None

    def wait_for(self, size: int) -> float:
        return max(self.messages.spend(1) if self.messages else 0.0, self.bytes.spend(size) if self.bytes else 0.0)


class _BoundedReads:
    """The raw socket of a simple-websocket connection, read only while its list of whole
    messages not yet taken is short; everything else is the socket's own."""

    def __init__(self, sock: Any, websocket: Any, sleep: Any) -> None:
        self._sock = sock
        self._websocket = websocket
        self._sleep = sleep

    def recv(self, size: int) -> bytes:
        while len(self._websocket.input_buffer) >= PENDING_MESSAGES and self._websocket.connected:
            self._sleep(PENDING_POLL_SECONDS)
        return self._sock.recv(size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class PacedSocket(UpgradeSafeSocket):
    """An Engine.IO connection whose messages are paced by its budget and checked for nesting."""

    budget: SocketBudget | None = None

    def _websocket_handler(self, ws: Any) -> Any:
        inner = getattr(ws, "ws", None)  # engineio's wrapper around simple_websocket.Server
        if getattr(self.server, "socket_budget_limits", None) is not None and isinstance(
                getattr(inner, "input_buffer", None), list) and getattr(inner, "sock", None) is not None:
            inner.sock = _BoundedReads(inner.sock, inner, self.server.sleep)
        return super()._websocket_handler(ws)

    def receive(self, pkt: Any) -> Any:
        if pkt.packet_type == eio_packet.MESSAGE:
            limits = getattr(self.server, "socket_budget_limits", None)
            if limits is not None:
                if self.budget is None:
                    self.budget = SocketBudget(*limits)
                wait = self.budget.wait_for(len(pkt.data))
                if wait > 0:
                    self.server.sleep(wait)
            # Text only (a binary attachment is raw bytes, not JSON). The packet's envelope,
            # ["rpc", {"payload": ...}], adds two levels to what HTTP's body would hold.
            if isinstance(pkt.data, str) and nested_deeper_than(pkt.data, MAX_DEPTH + ENVELOPE_LEVELS):
                return self._refuse_deep(pkt.data)
        return super().receive(pkt)

    def _refuse_deep(self, data: str) -> None:
        head = _EVENT_HEAD.match(data[:160])
        if head is not None and head.group(2) is not None:
            namespace = head.group(1) or ""
            log.info("engine.io %s: a message nested past %d levels; refused", self.sid, MAX_DEPTH)
            ack = f"3{namespace}{head.group(2)}" + json.dumps([TOO_DEEP], separators=(",", ":"))
            self.send(eio_packet.Packet(eio_packet.MESSAGE, data=ack))
            return
        log.info("engine.io %s: a message nested past %d levels, no ack asked; closed", self.sid, MAX_DEPTH)
        self.close(wait=False, abort=True, reason=self.server.reason.SERVER_DISCONNECT)


def set_budget(eio_server: Any, messages_per_second: float, bytes_per_second: float, largest_message: int) -> None:
    """Give every connection of this Engine.IO server the budget (a rate of 0: that one unbounded)."""
    eio_server.socket_budget_limits = (messages_per_second, bytes_per_second, largest_message)
