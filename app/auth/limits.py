"""Rate limits on login attempts, per client address.

Counters live in Redis when SERVICES.redis is set, else memcached, else the
process's memory (the `limits` library's storages). Each app has its own
limiter. If the counter store stops answering, limits fail open: logins keep
working rather than locking everyone out, and the failure is logged.
"""

from __future__ import annotations

import logging
import time
from functools import wraps
from typing import TYPE_CHECKING

from flask import Flask, current_app, request
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from app.services import redis_url
from app.throttled_log import ThrottledLog

if TYPE_CHECKING:
    from app.config import Settings

log = logging.getLogger(__name__)

LIMITER_KEY = "app.login_limiter"
DEFAULT_LOGIN_LIMIT = "10 per minute; 100 per hour"


class TooManyLogins(TooManyRequests):
    error_code = "too_many_requests"
    description = "Too many login attempts; wait a minute and try again."

    def __init__(self, retry_after: int):
        super().__init__()
        self.retry_after = max(1, retry_after)

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", str(self.retry_after))]


class LoginLimiter:
    def __init__(self, uri: str, options: dict, namespace: str, limits: str):
        self.strategy = FixedWindowRateLimiter(storage_from_string(uri, **options))
        self.namespace = namespace
        self.limits = parse_many(limits)
        self.health = ThrottledLog(f"login rate-limit store ({uri.split(':', 1)[0]})", logger=log)

    def check(self, client: str) -> None:
        """Count one attempt by `client`; raise TooManyLogins past a limit."""
        try:
            for limit in self.limits:
                if not self.strategy.hit(limit, self.namespace, client):
                    reset = self.strategy.get_window_stats(limit, self.namespace, client).reset_time
                    raise TooManyLogins(int(reset - time.time()) + 1)
        except TooManyLogins:
            raise
        except Exception as exc:  # noqa: BLE001 - any storage failure: fail open, logged
            self.health.failure(exc)
            return
        self.health.success()


def storage(settings: Settings) -> tuple[str, dict]:
    redis, memcached = settings.redis, settings.memcached
    url = redis_url(settings)
    if url:
        return url, {"socket_connect_timeout": redis.TIMEOUT, "socket_timeout": redis.TIMEOUT}
    if memcached.enabled:
        return (f"memcached://{memcached.HOST}:{memcached.PORT}",
                {"connect_timeout": memcached.TIMEOUT, "timeout": memcached.TIMEOUT})
    return "memory://", {}


def init_limits(app: Flask, settings: Settings) -> None:
    uri, options = storage(settings)
    limits = app.config.setdefault("LOGIN_RATE_LIMIT", DEFAULT_LOGIN_LIMIT)
    namespace = f"{settings.key_namespace}:limits:login"
    app.extensions[LIMITER_KEY] = LoginLimiter(uri, options, namespace, limits)


def login_rate_limit(view):
    """Decorate a login view: each POST counts against LOGIN_RATE_LIMIT (FLASK.CONFIG)."""

    @wraps(view)
    def limited(*args, **kwargs):
        if request.method == "POST":
            current_app.extensions[LIMITER_KEY].check(request.remote_addr or "unknown")
        return view(*args, **kwargs)

    return limited
