"""The Socket.IO baseline: a bare Flask-SocketIO app on the same gunicorn gevent
worker, websocket transport only, with Redis as its message queue (as the
template under compose), so the same emitter broadcasts to both.

`rpc` answers `ping` as the template's named request does: {"ok": true,
"result": {"pong": true, "server_time": ...}}. No login, no CSRF, no request
id, no access log: what Flask-SocketIO alone costs.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, jsonify
from flask_socketio import SocketIO

app = Flask(__name__)
socketio = SocketIO(app, async_mode="gevent", transports=["websocket"],
                    message_queue=os.environ["BENCH_SOCKETIO_REDIS"], channel=os.environ["BENCH_SOCKETIO_CHANNEL"])


@app.get("/json")
def json_endpoint():
    return jsonify(name="Flask", env="PROD")


@socketio.on("rpc")
def rpc(message):
    if isinstance(message, dict) and message.get("name") == "ping":
        return {"ok": True, "result": {"pong": True, "server_time": datetime.now(UTC).isoformat()}}
    return {"ok": False, "status": 404}
