"""Socket.IO client managers that can disconnect every socket in a room, in every process.

python-socketio disconnects one socket by id, and across processes only when it
knows that id. Logging out must end all the sockets opened on that login,
wherever they are connected: `disconnect_room(room)` disconnects the room's
local sockets and, with a message queue, asks every other process to do the
same. The request rides the queue's existing `disconnect` message (with a
`room` instead of a `sid`), so processes of older versions ignore it safely.
"""

from __future__ import annotations

from typing import Any

import socketio


class RoomDisconnectMixin:
    server: Any

    def disconnect_room(self, room: str, namespace: str = "/") -> None:
        self._disconnect_local_room(room, namespace)
        publish = getattr(self, "_publish", None)
        if publish is not None:
            publish({"method": "disconnect", "room": room, "namespace": namespace,
                     "host_id": getattr(self, "host_id", None)})

    def _disconnect_local_room(self, room: str, namespace: str) -> None:
        if self.server is None:  # a write-only manager serves no sockets
            return
        for sid, _eio_sid in list(self.get_participants(namespace, room)):  # type: ignore[attr-defined]
            self.server.disconnect(sid, namespace=namespace, ignore_queue=True)

    def _handle_disconnect(self, message: dict[str, Any]) -> None:
        if "room" in message:
            self._disconnect_local_room(message["room"], message.get("namespace") or "/")
            return
        super()._handle_disconnect(message)  # type: ignore[misc]


class LocalManager(RoomDisconnectMixin, socketio.Manager):
    """One process, no message queue (the embedded defaults)."""


class RedisManager(RoomDisconnectMixin, socketio.RedisManager):
    """Every process of every instance, through the Redis message queue."""
