"""The services a project's tests use, on 127.0.0.1: MariaDB, Redis, memcached.

Ports come from TEST_MYSQL_PORT, TEST_REDIS_PORT and TEST_MEMCACHED_PORT (what
scripts/provision prints), else the services' defaults; TEST_REDIS_DB is the Redis
database number the tests' servers use (redis_entry), else 0. A service the suite needs
and cannot reach fails the test with the reason; it is never skipped, so a CI run
without MariaDB, Redis or memcached is red.
"""

from __future__ import annotations

import os
import socket

import pytest

MARIADB = ("127.0.0.1", int(os.environ.get("TEST_MYSQL_PORT", "3306")))
REDIS = ("127.0.0.1", int(os.environ.get("TEST_REDIS_PORT", "6379")))
MEMCACHED = ("127.0.0.1", int(os.environ.get("TEST_MEMCACHED_PORT", "11211")))
REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "0"))


def require(service: str, address: tuple[str, int]) -> tuple[str, int]:
    """`address`, once something listens there; else the test fails naming the service."""
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError as exc:
        pytest.fail(f"{service} is required at {address[0]}:{address[1]} and is not reachable ({exc}); "
                    f"start it (`make provision`)", pytrace=False)
    return address


def mariadb_entry(address: tuple[str, int], database: str, **extra) -> dict:
    """A DATABASE entry of the config for `database` on the MariaDB at `address` (root, no password)."""
    return {"driver": "mysql+pymysql", "user": "root", "address": address[0], "port": address[1],
            "database": database, **extra}


def redis_entry(address: tuple[str, int] = REDIS, **extra) -> dict:
    """SERVICES.redis of the config for the Redis at `address`, on database TEST_REDIS_DB (else 0)."""
    return {"HOST": address[0], "PORT": address[1], "DB": REDIS_DB, **extra}


def redis_client(address: tuple[str, int] = REDIS):
    """A redis-py client on the Redis at `address`, database TEST_REDIS_DB: what the servers use."""
    import redis  # the framework depends on it; imported here so `services` stays light

    return redis.Redis(host=address[0], port=address[1], db=REDIS_DB)
