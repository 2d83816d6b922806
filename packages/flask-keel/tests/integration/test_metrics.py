"""/metrics: Prometheus numbers from every gunicorn worker, on a port of their own.

Against a real `python -m app serve` with two gevent workers and Redis as Socket.IO's
message queue: requests are counted by URL rule and status and summed across the
workers (each worker's own files are read too, to see that both counted), a socket
shows in the gauge while it is open, a 404 is counted as such, and the app's port
does not serve /metrics. In-process, against real servers: the pool gauges while a
request waits for a connection, and the failure counters while the session store
and the cache server cannot be reached.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from flask_keel.client import Client
from flask_keel.config import ConfigError, load_settings
from flask_keel.testing import free_port, redis_entry, wait_until
from tests.conftest import FIXTURE_PROJECT, REPO_ROOT

pytestmark = pytest.mark.integration


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, by name and labels."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def scrape(port: int) -> dict:
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return samples(response.text)


def per_worker(directory: Path, scratch: Path) -> dict[int, dict]:
    """Each worker's own numbers: its files alone, collected as the master collects them all."""
    numbers = {}
    for counter in directory.glob("counter_*.db"):
        pid = int(counter.stem.split("_")[1])
        alone = scratch / str(pid)
        alone.mkdir(parents=True, exist_ok=True)
        for path in directory.glob(f"*_{pid}.db"):
            shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        numbers[pid] = {(sample.name, frozenset(sample.labels.items())): sample.value
                        for family in registry.collect() for sample in family.samples}
    return numbers


@pytest.fixture
def two_workers(live_server, redis_server, monkeypatch):
    """Two gevent workers (Redis carries Socket.IO across them) with metrics on a free port."""
    metrics_port = free_port()
    # Not given a directory, the server makes one of its own (and removes it at exit).
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    server = live_server(migrate=True, project=FIXTURE_PROJECT,
                         SERVER_ENV={"PROCESSES": 2, "METRICS_PORT": metrics_port,
                                     "APP_NAME": f"metrics{uuid.uuid4().hex[:8]}"},
                         SERVICES={"redis": redis_entry(redis_server)})
    return server, metrics_port


@pytest.mark.fixture_project
def test_requests_sockets_and_404s_are_counted_across_two_workers(two_workers, tmp_path):
    server, metrics_port = two_workers
    line = wait_until(lambda: re.search(r"Metrics at http://127\.0\.0\.1:(\d+)/metrics \(the workers' files in "
                                        r"(\S+)\)", server.log()))
    assert line and int(line[1]) == metrics_port, server.log()
    directory = Path(line[2])  # made for this start: PROMETHEUS_MULTIPROC_DIR was not set
    assert directory.is_dir()

    # Not on the app's port: that one is public.
    assert requests.get(server.url + "/metrics", timeout=10).status_code == 404
    before = scrape(metrics_port)
    info = {"method": "GET", "route": "/ws/info", "status": "200"}
    assert value(before, "http_requests_total", **info) == 0

    # A fresh connection per request until both workers have answered some (the
    # kernel hands each new connection to either), at most 400.
    sent = 0
    workers: dict[int, dict] = {}
    while sent < 400:
        for _ in range(20):
            assert requests.get(server.url + "/ws/info", timeout=10).status_code == 200
            sent += 1
        workers = per_worker(directory, tmp_path / "alone")
        answered = [value(numbers, "http_requests_total", **info) for numbers in workers.values()]
        if len(answered) == 2 and all(answered):
            break
    assert len(workers) == 2, f"expected two workers' files in {directory}: {sorted(workers)}"
    answered = {pid: value(numbers, "http_requests_total", **info) for pid, numbers in workers.items()}
    assert all(answered.values()), f"one worker answered all {sent} requests: {answered}"

    # The master's sum over both workers: every request once, in the counter and the histogram.
    after = scrape(metrics_port)
    assert value(after, "http_requests_total", **info) == sent == sum(answered.values())
    assert value(after, "http_request_duration_seconds_count", route="/ws/info") == sent
    assert value(after, "http_request_duration_seconds_bucket", route="/ws/info", le="+Inf") == sent
    assert 0 < value(after, "http_request_duration_seconds_sum", route="/ws/info") < sent * 1.0

    # A 404 by its status, under one label whatever the path (no series per path).
    for path in ("/no/such/page", "/no/such/page/2", "/ws/courses/123456789"):
        assert requests.get(server.url + path, timeout=10).status_code == 404
    not_found = scrape(metrics_port)
    # These three, and the /metrics asked of the app's port above.
    assert value(not_found, "http_requests_total", method="GET", route="unmatched", status="404") == 4
    assert not [labels for name, labels in not_found if "/no/such" in str(labels)]

    # A socket shows in the gauge while it is open, whichever worker holds it.
    assert value(not_found, "socketio_connections") == 0
    client = Client(server.url)
    try:
        client.signup("gauge", "a long password", "gauge@metrics.test")
        assert client.connected
        assert wait_until(lambda: value(scrape(metrics_port), "socketio_connections") == 1), scrape(metrics_port)
        second = client.clone()
        try:
            assert wait_until(lambda: value(scrape(metrics_port), "socketio_connections") == 2)
        finally:
            second.close()
        assert wait_until(lambda: value(scrape(metrics_port), "socketio_connections") == 1)
    finally:
        client.close()
    final = wait_until(lambda: (s := scrape(metrics_port)) and value(s, "socketio_connections") == 0 and s)
    assert final, scrape(metrics_port)
    # The signup's requests, by their URL rule; the socket's own requests are not counted.
    assert value(final, "http_requests_total", method="POST", route="/ws/signup", status="201") == 1
    assert not [labels for name, labels in final if name == "http_requests_total"
                and dict(labels)["route"].startswith("/socket.io")]
    # The pool gauges exist per database (SQLite here) and nothing is held at rest.
    assert value(final, "db_pool_size", database="main") > 0
    assert value(final, "db_pool_connections_in_use", database="main") == 0
    assert value(final, "db_pool_waiting", database="main") == 0

    assert server.stop() == 0
    assert not directory.exists(), "the metrics directory made for the run outlived it"


def test_a_metrics_port_in_use_stops_the_start_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({
        "SERVER_ENV": {"INSTANCE_PATH": str(tmp_path / "instance"), "APP_KEY": "live-server-key-" * 3,
                       "PROCESSES": 1, "METRICS_PORT": taken},
        "DATABASE": {"main": {"driver": "sqlite", "database": str(tmp_path / "app.sqlite3"), "models": []}},
        "SERVICES": {"filesystem": {"PATH": str(tmp_path / "sessions")}},
    }))
    try:
        result = subprocess.run([sys.executable, "-m", "app", "serve", "--bind", f"127.0.0.1:{free_port()}"],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "APP_CONFIG": str(config)})
    finally:
        holder.close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"SERVER_ENV.METRICS_PORT: cannot serve metrics on 127.0.0.1:{taken}: Address already in use" in \
        result.stderr


def test_the_metrics_port_cannot_be_the_apps_port(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("SERVER_ENV: {BIND: {PORT: 4300}, METRICS_PORT: 4300}\n")
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    assert "SERVER_ENV.METRICS_PORT: is 4300, the app's own port (BIND.PORT)" in str(error.value)


# --- in-process, against real servers ---------------------------------------


def in_process_app(tmp_path, **server_env):
    from flask_keel.factory import create_app

    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({
        "SERVER_ENV": {"INSTANCE_PATH": str(tmp_path / "instance"), "APP_KEY": "live-server-key-" * 3,
                       "METRICS_PORT": free_port(), **server_env},
        # One connection at most, waited for up to 5 s.
        "DATABASE": {"main": {"driver": "sqlite", "database": str(tmp_path / "app.sqlite3"), "models": [],
                              "engine": {"pool_size": 1, "max_overflow": 0, "pool_timeout": 5}}},
        "SERVICES": {"filesystem": {"PATH": str(tmp_path / "sessions")},
                     # Nothing listens here: the store and the cache are down.
                     "memcached": {"HOST": "127.0.0.1", "PORT": _closed_port(), "TIMEOUT": 0.5}},
    }))
    return create_app(config)


def test_the_pool_gauges_show_a_connection_in_use_and_a_request_waiting(tmp_path):
    from flask_keel.db import db

    app = in_process_app(tmp_path)
    engine = db.engines_by_name(app)["main"]
    labels = {"database": "main"}

    def gauge(name: str) -> float:
        return REGISTRY.get_sample_value(name, labels)

    assert gauge("db_pool_size") >= 1
    held = engine.connect()
    assert gauge("db_pool_connections_in_use") == 1 and gauge("db_pool_waiting") == 0
    waiter_done = threading.Event()

    def wait_for_a_connection():
        with engine.connect():
            pass
        waiter_done.set()

    waiter = threading.Thread(target=wait_for_a_connection, daemon=True)
    waiter.start()
    try:
        assert wait_until(lambda: gauge("db_pool_waiting") == 1), gauge("db_pool_waiting")
        assert not waiter_done.is_set()
    finally:
        held.close()
    assert waiter_done.wait(5)
    waiter.join(5)
    assert gauge("db_pool_waiting") == 0 and gauge("db_pool_connections_in_use") == 0


def test_session_store_and_cache_failures_are_counted(tmp_path):
    from flask_keel.cache import cache

    app = in_process_app(tmp_path, SESSION="memcached", CACHE="memcached")
    store_before = REGISTRY.get_sample_value("session_store_failures_total")
    cache_before = REGISTRY.get_sample_value("cache_failures_total")

    with app.app_context():
        assert cache.get("anything", "missed") == "missed"  # fails open
        assert cache.set("anything", 1) is False
    assert REGISTRY.get_sample_value("cache_failures_total") == cache_before + 2

    # A request with a stored session's cookie reads the store, which is down: 503.
    client = app.test_client()
    client.set_cookie("session", "a-session-id")
    response = client.get("/ws/me")
    assert response.status_code == 503 and response.json["error"] == "session_store_unavailable"
    assert REGISTRY.get_sample_value("session_store_failures_total") == store_before + 1


def _closed_port() -> int:
    port = free_port()  # bound and released: nothing listens there now
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return port
