"""Clients for the configured network services, built once per app.

Every client has connect and read timeouts: a service that stops answering
costs a request a few seconds, never a hung worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis
    from pymemcache.client.base import PooledClient

    from flask_keel.config import Settings


def redis_url(settings: Settings) -> str | None:
    """SERVICES.redis as a redis:// URL (the URL key as given, else built with a quoted password)."""
    from urllib.parse import quote

    redis = settings.redis
    if not redis.enabled:
        return None
    if redis.URL:
        return redis.URL
    auth = f":{quote(redis.PASSWORD, safe='')}@" if redis.PASSWORD else ""
    return f"redis://{auth}{redis.HOST}:{redis.PORT}/{redis.DB}"


def redis_client(settings: Settings) -> redis.Redis | None:
    """A Redis client for SERVICES.redis, or None when it is not configured."""
    service = settings.redis
    if not service.enabled:
        return None
    import redis
    from redis.backoff import ConstantBackoff
    from redis.retry import Retry

    options = {
        "socket_connect_timeout": service.TIMEOUT,
        "socket_timeout": service.TIMEOUT,
        "health_check_interval": 30,
        # redis-py's default retries with exponential backoff, holding every request
        # for seconds while Redis is down; one quick retry covers a dropped connection.
        "retry": Retry(ConstantBackoff(0.05), 1),
        # A gevent worker runs hundreds of requests at once. redis-py's default pool
        # fails past 100 connections; this one makes a request wait for a free
        # connection (up to TIMEOUT, then the usual 503).
        "max_connections": service.MAX_CONNECTIONS,
        "timeout": service.TIMEOUT,
    }
    if service.URL:
        pool = redis.BlockingConnectionPool.from_url(service.URL, **options)
    else:
        pool = redis.BlockingConnectionPool(host=service.HOST, port=service.PORT,
                                            password=service.PASSWORD or None, db=service.DB, **options)
    return redis.Redis(connection_pool=pool)


def memcached_client(settings: Settings) -> PooledClient | None:
    """A pooled memcached client for SERVICES.memcached, or None when not configured."""
    service = settings.memcached
    if not service.enabled:
        return None
    from pymemcache.client.base import PooledClient

    return PooledClient(
        (service.HOST, service.PORT),
        connect_timeout=service.TIMEOUT,
        timeout=service.TIMEOUT,
        no_delay=True,
        max_pool_size=service.MAX_CONNECTIONS,
        # pymemcache's default is fire-and-forget writes: a logout's delete could land
        # after the next request read the session on another pooled connection, and a
        # refused write (an item over memcached's size limit) looked like a success.
        default_noreply=False,
    )


__all__ = ["memcached_client", "redis_client", "redis_url"]
