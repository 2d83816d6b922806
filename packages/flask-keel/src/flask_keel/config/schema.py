"""The shape of a config file, section by section, with its defaults.

Keys are the seed's (upper case in SERVER_ENV and SERVICES, lower case in a
DATABASE entry). An unknown key is an error naming it: a typo such as `SESION`
would otherwise be ignored in silence.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from flask_keel.config.proxies import proxy_entries

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]

Environment = Literal["DEV", "UAT", "PROD"]
SessionBackend = Literal["filesystem", "redis", "memcached"]
CacheBackend = Literal["filesystem", "redis", "memcached", "null"]
# gunicorn worker classes; `gevent` is what Socket.IO websockets need.
WorkerClass = Literal["gevent", "sync", "gthread"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class Bind(_Section):
    # Loopback unless told otherwise (the image sets BIND_ADDRESS=0.0.0.0: a container
    # must listen beyond its own loopback).
    ADDRESS: str = "127.0.0.1"
    PORT: Port = 4200


class Log(_Section):
    DIR: str | None = None
    LEVEL: LogLevel = "INFO"
    FORMAT: LogFormat = "text"


class Jobs(_Section):
    """Background jobs (flask_keel/jobs): where they wait and what runs them."""

    # sqlite: a file under INSTANCE_PATH (no service needed); redis: SERVICES.redis,
    # shared by every instance; auto: redis when SERVICES.redis is set, else sqlite.
    STORAGE: Literal["auto", "sqlite", "redis"] = "auto"
    # Who runs the jobs. app: a consumer inside one gunicorn worker of
    # `python -m app serve` (needs nothing else running); worker: `flask jobs worker`
    # processes only (the compose `worker` service); auto: app on sqlite storage,
    # worker on redis.
    CONSUMER: Literal["auto", "app", "worker"] = "auto"
    # The SQLite storage's file, relative to INSTANCE_PATH.
    FILE: str = "jobs.sqlite3"
    # Tasks one consumer runs at once (threads in a worker, greenlets in the app). Two:
    # on SQLite one user's jobs run one at a time, so another user's start beside them.
    CONCURRENCY: Positive = 2
    # Seconds a consumer may go without a heartbeat before the jobs it was running
    # count as abandoned (killed, lost its host) and go back to the queue.
    LEASE: Positive = 30
    # Jobs of one task a user may have waiting or running (more: 429).
    PER_USER: Positive = 3
    # Jobs of one task a user may enqueue (the `limits` library's notation; empty: no limit).
    USER_RATE: str = "10 per minute; 60 per hour"
    # Days a failed job is kept for `flask jobs list` and `flask jobs retry`.
    FAILED_DAYS: Positive = 7

    def __post_init__(self) -> None:
        if self.USER_RATE:
            from limits import parse_many

            try:
                parse_many(self.USER_RATE)
            except ValueError:
                raise ValueError(f"the rate USER_RATE {self.USER_RATE!r} is not one such as "
                                 f"'10 per minute; 60 per hour'") from None


class ServerEnv(_Section):
    APP_NAME: str = "Flask"
    APP_KEY: str | None = None
    ENV: Environment = "DEV"
    DEBUG: bool = False
    BIND: Bind = msgspec.field(default_factory=Bind)
    # /metrics (Prometheus) is served by the gunicorn master on this port of BIND.ADDRESS,
    # never on the app's port; None: no metrics are recorded or served.
    METRICS_PORT: Port | None = None
    WORKERS: WorkerClass = "gevent"
    # gunicorn worker processes per instance: "auto" is one per CPU available when
    # Socket.IO can span processes, else 1 (flask_keel/workers.py says why).
    PROCESSES: Positive | Literal["auto"] = "auto"
    # Socket.IO over long-polling as well as websockets, for networks that block
    # websockets. Costs: one worker per instance, and a proxy that keeps each
    # client on one instance.
    SOCKETIO_POLLING: bool = False
    THREADS_PER_CORE: Positive = 1
    # Connections one gevent worker serves at once, and how many of them one client
    # address may hold (0: no bound; off behind TRUSTED_PROXIES, where the proxy bounds it).
    WORKER_CONNECTIONS: Positive = 4096
    CLIENT_CONNECTIONS: Annotated[int, msgspec.Meta(ge=0)] = 256
    TIMEOUT: Positive = 30
    GRACEFUL_TIMEOUT: Positive = 30
    CAPTURE: bool = False
    STATIC_PATH: str = "static"
    TEMPLATE_PATH: str = "template"
    INSTANCE_PATH: str = "instance"
    # The address users reach the app at (https://example.org): links in mail are built
    # from it, never from a request's Host header. None: http://BIND.ADDRESS:BIND.PORT.
    PUBLIC_URL: str | None = None
    # Proxies in front whose X-Forwarded-* headers are believed (0: none) ...
    TRUSTED_PROXIES: Annotated[int, msgspec.Meta(ge=0, le=5)] = 0
    # ... on connections from these addresses, networks or host names only (a list, or one
    # string with commas): a client reaching the app directly cannot pass for another address.
    TRUSTED_PROXY_NETWORKS: str | list[str] = "127.0.0.0/8, ::1"
    SESSION: SessionBackend = "filesystem"
    CACHE: CacheBackend = "filesystem"
    LOG: Log = msgspec.field(default_factory=Log)
    JOBS: Jobs = msgspec.field(default_factory=Jobs)

    @property
    def proxy_networks(self) -> list[str]:
        """TRUSTED_PROXY_NETWORKS as a list of entries."""
        return proxy_entries(self.TRUSTED_PROXY_NETWORKS)


class Database(_Section):
    driver: str
    user: str | None = None
    password: str | None = None
    address: str | None = None
    port: Port | None = None
    database: str | None = None
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    engine: dict[str, Any] = msgspec.field(default_factory=dict)
    readonly: bool = False
    # The Models.Persistent module (or a list of them) whose models live in this database;
    # left out on the default database: every module no other entry lists.
    models: str | list[str] | None = None

    @property
    def model_names(self) -> list[str]:
        if self.models is None:
            return []
        return [self.models] if isinstance(self.models, str) else list(self.models)


class RedisService(_Section):
    HOST: str | None = None
    PORT: Port = 6379
    PASSWORD: str | None = None
    DB: Annotated[int, msgspec.Meta(ge=0)] = 0
    URL: str | None = None
    TIMEOUT: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    MAX_CONNECTIONS: Positive = 64

    @property
    def enabled(self) -> bool:
        return bool(self.URL or self.HOST)


class MemcachedService(_Section):
    HOST: str | None = None
    PORT: Port = 11211
    TIMEOUT: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    MAX_CONNECTIONS: Positive = 128

    @property
    def enabled(self) -> bool:
        return bool(self.HOST)


class FilesystemService(_Section):
    PATH: str = "instance/sessions"


class MailService(_Section):
    """Outgoing mail (flask_keel.mail). No HOST: messages are written as .eml files
    under INSTANCE_PATH/mail instead of being sent (the embedded defaults)."""

    HOST: str | None = None
    PORT: Port = 587
    # starttls: plain connection upgraded by STARTTLS (port 587); tls: TLS from the
    # first byte (port 465); none: no encryption (a mail catcher on the same host only).
    SECURITY: Literal["starttls", "tls", "none"] = "starttls"
    USERNAME: str | None = None
    PASSWORD: str | None = None
    # The From: address of every message.
    SENDER: str = "no-reply@localhost"
    TIMEOUT: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    # Attempts per message, within its job; the wait between them doubles from RETRY_DELAY s.
    ATTEMPTS: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    RETRY_DELAY: Annotated[float, msgspec.Meta(ge=0)] = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.HOST)


class FlaskSection(_Section):
    CONFIG: dict[str, Any] | None = None


# Sections whose shape is fixed; SERVICES may also hold the user's own entries.
KNOWN_SERVICES: dict[str, type[_Section]] = {
    "redis": RedisService,
    "memcached": MemcachedService,
    "filesystem": FilesystemService,
    "mail": MailService,
}

SECTIONS = ("SERVER_ENV", "DATABASE", "FLASK", "SERVICES")
SECTION_ALIASES = {"DATABASES": "DATABASE"}

# Drivers named in the docs; any other name SQLAlchemy can load passes too.
KNOWN_DRIVERS = ("sqlite", "mysql+pymysql", "postgresql+psycopg", "postgresql+psycopg2")
