"""/readyz against the real MariaDB, Redis and memcached, and against dead ports."""

from __future__ import annotations

import pytest

from flask_keel.testing import free_port, redis_entry

pytestmark = pytest.mark.integration


def services(redis_port: int, memcached_port: int, host: str = "127.0.0.1") -> dict:
    return {"redis": redis_entry((host, redis_port), TIMEOUT=1),
            "memcached": {"HOST": host, "PORT": memcached_port, "TIMEOUT": 1}}


def test_ready_when_every_dependency_answers(live_server, mariadb, redis_server, memcached_server):
    server = live_server(
        DATABASE={"default": "main", "shop": {"driver": "mysql+pymysql", "user": "root", "address": mariadb[0],
                                              "port": mariadb[1], "database": "test"}},
        SERVICES=services(redis_server[1], memcached_server[1]),
        SERVER_ENV={"SESSION": "redis"},
    )
    response = server.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database:main", "database:shop", "redis", "memcached"}
    assert body["failing"] == []


def test_not_ready_names_each_failing_dependency(live_server, mariadb):
    dead_redis, dead_memcached, dead_mysql = free_port(), free_port(), free_port()
    server = live_server(
        DATABASE={"default": "main", "shop": {"driver": "mysql+pymysql", "user": "root", "address": "127.0.0.1",
                                              "port": dead_mysql, "database": "test"}},
        SERVICES=services(dead_redis, dead_memcached),
    )
    response = server.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["failing"] == ["database:shop", "memcached", "redis"]
    assert body["checks"]["database:main"]["ok"] is True
    # The public answer names the kind of failure; hosts and ports stay in the log.
    assert str(dead_mysql) not in response.text
    assert "readiness check redis failed" in server.log()
    # Liveness does no I/O: the process is fine even while its dependencies are not.
    assert server.get("/healthz").status_code == 200
