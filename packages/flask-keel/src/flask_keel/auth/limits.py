"""Rate limits per client address on the attempts worth guessing or flooding:
logging in (passwords) and signing up (accounts, each a costly password hash),
on the `limits` library rather than Flask-Limiter, for a measured reason:
Flask-Limiter 4.1 (on the same `limits` storages) was measured against this
module in one process through app.wsgi_app, medians of 5 rounds of 1,000
requests (bench, on 2 shared cores). Its before/after/teardown request hooks
run on every request of the app, limited or not: a plain GET went from 70 to
113 µs (+40 µs on every page, API call and health check, for two views). A
counted POST costs 93 µs here and 190 µs with it (memory storage), 255 µs
here and 366 µs with it (Redis); and its Retry-After needs headers_enabled,
which reads the window back from the store on every counted request (673 µs
on Redis) and puts Retry-After and X-RateLimit-* on successful logins too.
Its `limit` decorator also binds one Limiter (one storage) at import time,
while the Controllers import `login_rate_limit` before any app exists and
each app has its own store. What it would add, the in-memory fallback, is
done here in a few lines (`Counters`; 2 µs more a check, 10 µs in all).

    @login_rate_limit       # LOGIN_RATE_LIMIT in FLASK.CONFIG, default 10 per minute; 100 per hour
    @signup_rate_limit      # SIGNUP_RATE_LIMIT, default 5 per minute; 20 per hour

Every POST to a decorated view counts, whatever its outcome; the page and the
web service of one action share a counter. Past a limit the answer is 429
with Retry-After. Counters live in Redis when SERVICES.redis is set, else
memcached, else the process's memory (the `limits` library's storages). Each
app has its own limiters. If the counter store stops answering, the limits
carry on in the process's memory: nobody is locked out, nobody gets unlimited
attempts, and only one attempt every RETRY_STORE_SECONDS waits for the dead
store (trying it again); the outage is logged as the other stores' are
(ThrottledLog: when it starts, every 30 s, when it ends).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING

from flask import Flask, current_app, request
from limits import parse_many
from limits.storage import MemoryStorage, storage_from_string
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
    # Requests that send mail (password reset, a verification link again), per client
    # address and, counted separately, per email address asked for (count_attempt).
    "mail": ("MAIL_RATE_LIMIT", "5 per minute; 30 per hour",
             "Too many mail requests from your address; wait a minute and try again."),
    "mail_address": ("MAIL_ADDRESS_RATE_LIMIT", "3 per 15 minutes; 10 per day",
                     "Too many messages were asked for this address; try again later."),
}
# While the store is down, counts are kept in memory and the store is tried again this often.
RETRY_STORE_SECONDS = 5.0


class TooManyAttempts(TooManyRequests):
    error_code = "too_many_requests"

    def __init__(self, description: str, retry_after: int):
        super().__init__(description)
        self.retry_after = max(1, retry_after)

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", str(self.retry_after))]


class Counters:
    """The counters of one app's limits: in its store, or in this process's memory from
    the store's failure until it is tried again (Flask-Limiter's in-memory fallback)."""

    def __init__(self, uri: str, options: dict):
        self.store = FixedWindowRateLimiter(storage_from_string(uri, **options))
        self.memory = FixedWindowRateLimiter(MemoryStorage())
        self.retry_at = 0.0
        self.health = ThrottledLog(f"rate-limit store ({uri.split(':', 1)[0]})", logger=log)

    def current(self) -> FixedWindowRateLimiter:
        return self.memory if time.monotonic() < self.retry_at else self.store

    def failed(self, exc: Exception) -> None:
        self.retry_at = time.monotonic() + RETRY_STORE_SECONDS
        self.health.failure(exc)

    def answered(self) -> None:
        self.health.success()


class RateLimiter:
    def __init__(self, counters: Counters, namespace: str, limits: str, refusal: str):
        self.counters = counters
        self.namespace = namespace
        self.limits = parse_many(limits)
        self.refusal = refusal

    def check(self, client: str) -> None:
        """Count one attempt by `client`; raise TooManyAttempts past a limit."""
        strategy = self.counters.current()
        if strategy is self.counters.store:
            try:
                self._count(strategy, client)
            except TooManyAttempts:
                raise
            except Exception as exc:  # noqa: BLE001 - any storage failure: counted in memory, logged
                self.counters.failed(exc)
                strategy = self.counters.memory
            else:
                self.counters.answered()
                return
        self._count(strategy, client)

    def _count(self, strategy: FixedWindowRateLimiter, client: str) -> None:
        for limit in self.limits:
            if not strategy.hit(limit, self.namespace, client):
                reset = strategy.get_window_stats(limit, self.namespace, client).reset_time
                raise TooManyAttempts(self.refusal, int(reset - time.time()) + 1)


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
    counters = Counters(*storage(settings))  # one store, one fallback and one outage log for every limit
    app.extensions[LIMITERS_KEY] = {
        name: RateLimiter(counters, f"{settings.key_namespace}:limits:{name}",
                          app.config.setdefault(config_key, default), refusal)
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


def count_attempt(name: str, key: str) -> None:
    """Count one attempt against the limit `name` for `key` (a client address, an email
    address, ...); TooManyAttempts (429 with Retry-After) past it. For limits keyed on
    something other than the client's address, and for named requests over sockets."""
    current_app.extensions[LIMITERS_KEY][name].check(key)


login_rate_limit = rate_limit("login")
signup_rate_limit = rate_limit("signup")
