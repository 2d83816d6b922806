"""A small cache for controllers, on Redis, memcached or files (SERVER_ENV.CACHE),
kept here rather than Flask-Caching for reasons checked against its 2.5.1
(with cachelib 0.17). Its CACHE_SERIALIZER does replace pickle on Redis and
files (a msgpack serializer round-trips there), but not on memcached: that
backend has no serializer (the setting only warns) and takes pylibmc,
python-memcached or libmc, which pickle objects themselves; with this
project's pymemcache it fails at start with "no memcache module found". Its
get() and set() raise while the server is down (measured: ConnectionError
from both with Redis gone), where this cache must miss and go on; only its
decorators swallow errors, with a traceback logged per request. And it is no
faster: a Redis get of a small msgpack value took 62-113 µs through it and
33 µs here (medians of 5 rounds of 3,000 gets, same process, loopback).

    from flask_keel.cache import cache
    stats = cache.get_or_set("school:stats", compute_stats, timeout=30)

Values are msgpack (anything msgspec encodes), never pickle. The cache fails
open: while its server is down, get() misses, set() does nothing and
get_or_set() computes the value, so a request never fails because of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
from flask import current_app

from flask_keel.metrics import CACHE_FAILURES
from flask_keel.sessions.outage import STORE_ERRORS
from flask_keel.sessions.serializers import MsgpackFileSystemCache
from flask_keel.throttled_log import ThrottledLog

if TYPE_CHECKING:
    from flask_keel.config import Settings

log = logging.getLogger(__name__)

CACHE_KEY = "flask_keel.cache"
_MISSING = object()


class Backend(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, timeout: int) -> None: ...
    def delete(self, key: str) -> None: ...


class RedisBackend:
    def __init__(self, client):
        self.client = client

    def get(self, key: str) -> bytes | None:
        return self.client.get(key)

    def set(self, key: str, value: bytes, timeout: int) -> None:
        self.client.set(key, value, ex=timeout or None)

    def delete(self, key: str) -> None:
        self.client.delete(key)


class MemcachedBackend:
    def __init__(self, client):
        self.client = client

    def get(self, key: str) -> bytes | None:
        return self.client.get(key)

    def set(self, key: str, value: bytes, timeout: int) -> None:
        self.client.set(key, value, expire=timeout)

    def delete(self, key: str) -> None:
        self.client.delete(key)


class FileBackend:
    def __init__(self, directory: str):
        self.files = MsgpackFileSystemCache(directory, threshold=5000, mode=0o600)

    def get(self, key: str) -> bytes | None:
        return self.files.get(key)

    def set(self, key: str, value: bytes, timeout: int) -> None:
        self.files.set(key, value, timeout=timeout)

    def delete(self, key: str) -> None:
        self.files.delete(key)


class NullBackend:
    def get(self, key: str) -> bytes | None:
        return None

    def set(self, key: str, value: bytes, timeout: int) -> None:
        pass

    def delete(self, key: str) -> None:
        pass


class Cache:
    def __init__(self, backend: Backend, prefix: str, default_timeout: int = 300, name: str = "cache"):
        self.backend = backend
        self.prefix = prefix
        self.default_timeout = default_timeout
        self.health = ThrottledLog(name, logger=log, counter=CACHE_FAILURES)

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def get(self, key: str, default: Any = None) -> Any:
        try:
            raw = self.backend.get(self._key(key))
        except STORE_ERRORS as exc:
            self.health.failure(exc)
            return default
        self.health.success()
        if raw is None:
            return default
        try:
            return msgspec.msgpack.decode(raw)
        except msgspec.DecodeError:
            return default

    def set(self, key: str, value: Any, timeout: int | None = None) -> bool:
        encoded = msgspec.msgpack.encode(value)
        try:
            self.backend.set(self._key(key), encoded, self.default_timeout if timeout is None else timeout)
        except STORE_ERRORS as exc:
            self.health.failure(exc)
            return False
        self.health.success()
        return True

    def delete(self, key: str) -> bool:
        try:
            self.backend.delete(self._key(key))
        except STORE_ERRORS as exc:
            self.health.failure(exc)
            return False
        return True

    def get_or_set(self, key: str, compute: Callable[[], Any], timeout: int | None = None) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            value = compute()
            self.set(key, value, timeout)
        return value


def build_cache(settings: Settings, clients: dict) -> Cache:
    kind = settings.server.CACHE
    prefix = f"{settings.key_namespace}:cache:"
    if kind == "redis":
        backend: Backend = RedisBackend(clients["redis"])
    elif kind == "memcached":
        backend = MemcachedBackend(clients["memcached"])
    elif kind == "filesystem":
        directory = settings.instance_path / "cache"
        directory.mkdir(parents=True, exist_ok=True)
        backend = FileBackend(str(directory))
    else:
        backend = NullBackend()
    return Cache(backend, prefix, name=f"cache ({kind})")


class _CacheProxy:
    """`cache`: the current app's Cache."""

    def __getattr__(self, name: str) -> Any:
        return getattr(current_app.extensions[CACHE_KEY], name)


cache = _CacheProxy()

__all__ = ["cache"]
