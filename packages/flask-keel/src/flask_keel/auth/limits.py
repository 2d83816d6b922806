"""Rate limits per client address on the attempts worth guessing or flooding:
logging in (passwords) and signing up (accounts, each a costly password hash).

    @login_rate_limit       # LOGIN_RATE_LIMIT in FLASK.CONFIG, default 10 per minute; 100 per hour
    @signup_rate_limit      # SIGNUP_RATE_LIMIT, default 5 per minute; 20 per hour

Counters live in Redis when SERVICES.redis is set, else memcached, else the
process's memory (the `limits` library's storages). Each app has its own
limiters. If the counter store stops answering, limits fail open: logins keep
working rather than locking everyone out, and the failure is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING

from flask import Flask, current_app, request
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from flask_keel.services import redis_url
from flask_keel.throttled_log import ThrottledLog

if TYPE_CHECKING:
    from flask_keel.config import Settings

log = logging.getLogger(__name__)

LIMITERS_KEY = "app.rate_limiters"
# name: (FLASK.CONFIG key, default, what the client is told when refused)
LIMITS = {
    "login": ("LOGIN_RATE_LIMIT", "10 per minute; 100 per hour",
              "Too many login attempts; wait a minute and try again."),
    "signup": ("SIGNUP_RATE_LIMIT", "5 per minute; 20 per hour",
               "Too many accounts created from your address; wait a minute and try again."),
}


class TooManyAttempts(TooManyRequests):
    error_code = "too_many_requests"

    def __init__(self, description: str, retry_after: int):
        super().__init__(description)
        self.retry_after = max(1, retry_after)

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", str(self.retry_after))]


class RateLimiter:
    def __init__(self, strategy: FixedWindowRateLimiter, namespace: str, limits: str, refusal: str, health):
        self.strategy = strategy
        self.namespace = namespace
        self.limits = parse_many(limits)
        self.refusal = refusal
        self.health = health

    def check(self, client: str) -> None:
        """Count one attempt by `client`; raise TooManyAttempts past a limit."""
        try:
            for limit in self.limits:
                if not self.strategy.hit(limit, self.namespace, client):
                    reset = self.strategy.get_window_stats(limit, self.namespace, client).reset_time
                    raise TooManyAttempts(self.refusal, int(reset - time.time()) + 1)
        except TooManyAttempts:
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
    # One storage and one outage log for every limit.
    strategy = FixedWindowRateLimiter(storage_from_string(uri, **options))
    health = ThrottledLog(f"rate-limit store ({uri.split(':', 1)[0]})", logger=log)
    app.extensions[LIMITERS_KEY] = {
        name: RateLimiter(strategy, f"{settings.key_namespace}:limits:{name}",
                          app.config.setdefault(config_key, default), refusal, health)
        for name, (config_key, default, refusal) in LIMITS.items()
    }


def rate_limit(name: str) -> Callable:
    """Decorate a view: each POST counts against the limit `name` for the client's address."""

    def decorate(view):
        @wraps(view)
        def limited(*args, **kwargs):
            if request.method == "POST":
                current_app.extensions[LIMITERS_KEY][name].check(request.remote_addr or "unknown")
            return view(*args, **kwargs)

        return limited

    return decorate


login_rate_limit = rate_limit("login")
signup_rate_limit = rate_limit("signup")
