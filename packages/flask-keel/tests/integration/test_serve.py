"""The real server, started as a user starts it: `python -m app serve`."""

from __future__ import annotations

import signal
import subprocess
import sys
from contextlib import closing

import pytest
import websocket

from flask_keel.testing import redis_entry
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def test_serves_pages_health_and_errors(live_server):
    server = live_server()
    home = server.get("/")
    assert home.status_code == 200 and "Flask is running" in home.text
    assert home.headers["Server"].startswith("gunicorn")

    health = server.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}

    ready = server.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database:main"]["ok"] is True

    missing = server.get("/definitely/not/here")
    assert missing.status_code == 404 and "Page not found" in missing.text

    traced = server.get("/healthz", headers={"X-Request-ID": "e2e-trace-7"})
    assert traced.headers["X-Request-ID"] == "e2e-trace-7"

    assert server.stop() == 0
    log = server.log()
    assert "Using worker: flask_keel.gunicorn_worker.ClientBoundGeventWorker" in log
    assert '[e2e-trace-7] app.access: 127.0.0.1 "GET /healthz" 200' in log


def test_socketio_is_served_over_websockets_and_refuses_polling_by_default(live_server):
    server = live_server()
    socket = websocket.create_connection(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket",
                                         timeout=10)
    with closing(socket):
        opened = socket.recv()
    assert opened.startswith("0{") and '"upgrades":[]' in opened
    polling = server.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert polling.status_code == 400 and "Invalid transport" in polling.text


def test_socketio_polling_is_served_when_allowed_and_offers_the_upgrade(live_server):
    server = live_server(SERVER_ENV={"SOCKETIO_POLLING": True})
    response = server.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert response.status_code == 200
    assert '"upgrades":["websocket"]' in response.text


def test_sigterm_stops_the_server_cleanly(live_server):
    server = live_server()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=20) == 0
    assert "Shutting down: Master" in server.log()


def test_a_broken_config_stops_serve_with_one_line_per_problem(tmp_path):
    config = tmp_path / "bad.yml"
    config.write_text("SERVER_ENV: {BIND: {PORT: '${NOPE_PORT}'}, SESSION: redis}\n")
    result = subprocess.run([sys.executable, "-m", "app", "serve", "--config", str(config)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"error: {config}: SERVER_ENV.BIND.PORT: environment variable NOPE_PORT is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_message_queue_it_runs_one_worker_and_says_why(live_server):
    server = live_server(SERVER_ENV={"PROCESSES": "auto"})
    assert server.stop() == 0
    log = server.log()
    assert "1 worker: Socket.IO has no message queue (SERVICES.redis)" in log
    assert log.count("Booting worker with pid") == 1


def test_with_a_message_queue_it_runs_one_worker_per_cpu(live_server, redis_server):
    from flask_keel.workers import available_cpus

    server = live_server(SERVER_ENV={"PROCESSES": "auto"},
                         SERVICES={"redis": redis_entry(redis_server)})
    cpus = available_cpus()
    assert server.get("/healthz").status_code == 200
    assert server.stop() == 0
    log = server.log()
    assert f"{cpus} worker{'s' if cpus > 1 else ''}, one per CPU available (WEB_CONCURRENCY overrides)" in log
    assert log.count("Booting worker with pid") == cpus


@pytest.mark.parametrize("value", ["", "auto"])
def test_web_concurrency_empty_or_auto_means_auto_and_gunicorn_starts(live_server, value):
    # What compose passes by default: gunicorn itself would refuse it (int("")).
    server = live_server(env={"WEB_CONCURRENCY": value}, SERVER_ENV={"PROCESSES": "${WEB_CONCURRENCY:-auto}"})
    assert server.get("/healthz").status_code == 200
    assert server.stop() == 0
    assert "1 worker: Socket.IO has no message queue (SERVICES.redis)" in server.log()
