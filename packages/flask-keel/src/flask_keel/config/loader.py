"""Load a config file into validated, typed Settings.

One pass finds every problem (missing variables, wrong types, unknown keys,
inconsistent sections) and raises one ConfigError listing them all, each line
naming the file and the key path.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect
from flask.cli import NoAppException

from flask_keel.config import schema
from flask_keel.config.files import ConfigFileError, read_config_file
from flask_keel.config.placeholders import EnvText, Problems, substitute, type_free_values
from flask_keel.config.proxies import proxy_entry_problem

DEFAULT_CONFIG = Path("config") / "config.yml"


class ConfigError(NoAppException):
    """The config cannot be used. `problems` holds one line per problem.

    A NoAppException, so that `flask <command>` reports it as one clear error
    (the list of problems) instead of a traceback.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {line}" for line in problems))


@dataclass(frozen=True)
class Settings:
    """The validated config of one app, with every relative path made absolute."""

    source: Path
    root: Path
    server: schema.ServerEnv
    databases: dict[str, schema.Database]
    default_database: str
    flask_config: dict[str, Any]
    redis: schema.RedisService
    memcached: schema.MemcachedService
    filesystem: schema.FilesystemService
    mail: schema.MailService = field(default_factory=schema.MailService)
    extra_services: dict[str, Any] = field(default_factory=dict)

    def path(self, value: str) -> Path:
        """A config path, relative ones taken from the project root."""
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    @property
    def instance_path(self) -> Path:
        return self.path(self.server.INSTANCE_PATH)

    @property
    def key_namespace(self) -> str:
        """APP_NAME made safe as a key prefix in Redis and memcached (no spaces or control characters)."""
        return re.sub(r"[^A-Za-z0-9_.:-]", "_", self.server.APP_NAME)

    @property
    def is_production(self) -> bool:
        return self.server.ENV == "PROD"

    def to_tree(self) -> dict[str, Any]:
        """The effective config as plain data, in the file's layout."""
        services: dict[str, Any] = {
            "redis": _plain(self.redis),
            "memcached": _plain(self.memcached),
            "filesystem": _plain(self.filesystem),
            "mail": _plain(self.mail),
        }
        services.update(self.extra_services)
        database: dict[str, Any] = {"default": self.default_database}
        database.update({name: _plain(entry) for name, entry in self.databases.items()})
        return {
            "SERVER_ENV": _plain(self.server),
            "DATABASE": database,
            "FLASK": {"CONFIG": dict(self.flask_config)},
            "SERVICES": services,
        }


def _plain(section: msgspec.Struct) -> dict[str, Any]:
    # Text from placeholders is an EnvText (a str subclass); written out it is plain text.
    return msgspec.to_builtins(section, enc_hook=str)


def project_root(environ: Mapping[str, str] | None = None) -> Path:
    """Where Server/, Controllers/ and config/ live: APP_ROOT, else the working directory.

    A project's `app` package sets APP_ROOT to its own checkout when imported.
    """
    environ = os.environ if environ is None else environ
    return Path(environ["APP_ROOT"]).resolve() if environ.get("APP_ROOT") else Path.cwd()


def config_path(explicit: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None) -> Path:
    """The file to load: the argument, else APP_CONFIG, else config/config.yml."""
    environ = os.environ if environ is None else environ
    chosen = explicit or environ.get("APP_CONFIG") or DEFAULT_CONFIG
    path = Path(chosen).expanduser()
    return path if path.is_absolute() else (Path.cwd() / path if explicit or environ.get("APP_CONFIG")
                                             else project_root(environ) / path)


def load_settings(path: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    source = config_path(path, environ)
    try:
        tree = read_config_file(source)
    except ConfigFileError as exc:
        raise ConfigError([str(exc)]) from None
    problems = Problems()
    sections = _sections(tree, problems)
    resolved = substitute(sections, environ, problems)
    settings = _validate(resolved, source, project_root(environ), problems)
    if problems.items:
        raise ConfigError([f"{source}: {item}" for item in problems.items])
    assert settings is not None
    return settings


def _sections(tree: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """Top-level sections, with aliases folded in and unknown names reported."""
    sections: dict[str, Any] = {}
    for key, value in tree.items():
        name = schema.SECTION_ALIASES.get(key, key)
        if name not in schema.SECTIONS:
            problems.add(str(key), f"unknown section (expected one of {', '.join(schema.SECTIONS)})")
            continue
        if name in sections:
            problems.add(str(key), f"{name} is given twice (as {name} and as its alias {key})")
            continue
        sections[name] = {} if value is None else value
    return sections


def _convert(value: Any, kind: type, where: str, problems: Problems, clean: bool = True) -> Any:
    """Validate one part of the config against its type, reporting under `where`.

    `clean` drops empty values and folds the case of enum-like keys; it is off for
    free-form sections, whose values are the user's own.
    """
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problems.add(where, f"expected a mapping of keys, got {_type_name(value)}")
        return None
    data = _drop_empty(value) if clean else copy.deepcopy(value)
    failed = False
    # msgspec reports the first error only; removing the offending key and trying
    # again finds the next, so the user sees every problem of a section at once.
    for _ in range(_MAX_ERRORS_PER_SECTION):
        try:
            result = msgspec.convert(data, kind, strict=False)
        except msgspec.ValidationError as exc:
            failed = True
            key_path, reason, location = _explain(str(exc), where, kind)
            problems.add(key_path, reason)
            if not _remove(data, location):
                return None
            continue
        return None if failed else result
    return None


_MAX_ERRORS_PER_SECTION = 25


def _remove(data: dict[str, Any], location: list[str]) -> bool:
    """Delete the key at `location` so the next attempt can get past it."""
    node: Any = data
    for key in location[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if not location or not isinstance(node, dict) or location[-1] not in node:
        return False
    del node[location[-1]]
    return True


def _drop_empty(value: dict[str, Any]) -> dict[str, Any]:
    """An empty value means "not given", so the key's default applies (as `${VAR:-}` reads)."""
    cleaned = {}
    for key, item in value.items():
        if isinstance(item, str) and item == "":
            continue
        if isinstance(item, dict) and key not in _FREE_FORM_KEYS:
            item = _drop_empty(item)
        cleaned[key] = _normalise_case(key, item)
    return cleaned


_FREE_FORM_KEYS = {"params", "engine"}
_UPPER_KEYS = {"ENV", "LEVEL"}
_LOWER_KEYS = {"SESSION", "CACHE", "WORKERS", "FORMAT", "PROCESSES"}


def _normalise_case(key: str, value: Any) -> Any:
    if isinstance(value, str) and key in _UPPER_KEYS:
        return EnvText(value.upper()) if isinstance(value, EnvText) else value.upper()
    if isinstance(value, str) and key in _LOWER_KEYS:
        return value.lower()
    return value


def _allowed_values(kind: type, keys: list[str]) -> tuple[Any, ...]:
    """The values a Literal-typed key accepts, found by walking the schema."""
    info: Any = msgspec.inspect.type_info(kind)
    for key in keys:
        if not isinstance(info, msgspec.inspect.StructType):
            return ()
        info = next((field.type for field in info.fields if field.name == key), None)
    return tuple(info.values) if isinstance(info, msgspec.inspect.LiteralType) else ()


def _explain(message: str, where: str, kind: type) -> tuple[str, str, list[str]]:
    """Turn msgspec's `Expected ... - at `$.A.B`` into (key path, reason, keys to the value)."""
    reason, _, location = message.partition(" - at `$")
    location = location.rstrip("`")
    keys = [key for key in location.split(".") if key] if "[" not in location else []
    path = where + location
    if reason.startswith(("Object contains unknown field", "Object missing required field")):
        key = reason.split("`")[1]
        known = "unknown key" if "unknown" in reason else "required key is missing"
        return f"{path}.{key}", known, keys + [key] if "unknown" in reason else []
    if reason.startswith("Invalid enum value"):
        allowed = ", ".join(map(str, _allowed_values(kind, keys))) or "the allowed values"
        return path, f"{reason[len('Invalid enum value '):]} is not one of {allowed}", keys
    return path, reason[0].lower() + reason[1:], keys


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__)


def _validate(sections: dict[str, Any], source: Path, root: Path, problems: Problems) -> Settings | None:
    server = _convert(sections.get("SERVER_ENV"), schema.ServerEnv, "SERVER_ENV", problems)
    flask_section = _convert(sections.get("FLASK"), schema.FlaskSection, "FLASK", problems, clean=False)
    databases, default = _databases(sections.get("DATABASE"), problems)
    services = _services(sections.get("SERVICES"), problems)

    if server is not None and server.ENV == "PROD" and not server.APP_KEY:
        problems.add("SERVER_ENV.APP_KEY", "is required when ENV is PROD (a generated development key "
                                           "is never used in production)")
    if server is not None and services is not None:
        for key, backend in (("SESSION", server.SESSION), ("CACHE", server.CACHE),
                             ("JOBS.STORAGE", server.JOBS.STORAGE)):
            if backend in ("redis", "memcached") and not services[backend].enabled:
                problems.add(f"SERVER_ENV.{key}", f"is {backend!r} but SERVICES.{backend} has no "
                                                  f"{'HOST or URL' if backend == 'redis' else 'HOST'}")
    if server is not None:
        for entry in server.proxy_networks:
            if (problem := proxy_entry_problem(entry)) is not None:
                problems.add("SERVER_ENV.TRUSTED_PROXY_NETWORKS", problem)
        if server.TRUSTED_PROXIES and not server.proxy_networks:
            problems.add("SERVER_ENV.TRUSTED_PROXY_NETWORKS", f"is empty, but TRUSTED_PROXIES is "
                                                              f"{server.TRUSTED_PROXIES}: name the proxies' addresses")
    if server is not None and server.METRICS_PORT is not None and server.METRICS_PORT == server.BIND.PORT:
        problems.add("SERVER_ENV.METRICS_PORT", f"is {server.METRICS_PORT}, the app's own port (BIND.PORT): "
                                               "metrics need a port of their own, which is never made public")
    if server is not None and services is not None and server.PROCESSES != "auto" and server.PROCESSES > 1:
        if server.SOCKETIO_POLLING:
            problems.add("SERVER_ENV.PROCESSES", f"is {server.PROCESSES}, but SOCKETIO_POLLING needs every "
                                                 "request of a client in one process: use 1 (or auto)")
        elif not services["redis"].enabled:
            problems.add("SERVER_ENV.PROCESSES", f"is {server.PROCESSES}, but Socket.IO events cross processes "
                                                 "only through a message queue: set SERVICES.redis, or use 1 "
                                                 "(or auto)")
    if problems.items or server is None or flask_section is None or services is None:
        return None
    return Settings(
        source=source,
        root=root,
        server=server,
        databases=databases,
        default_database=default,
        flask_config=type_free_values(flask_section.CONFIG or {}),
        redis=services.pop("redis"),
        memcached=services.pop("memcached"),
        filesystem=services.pop("filesystem"),
        mail=services.pop("mail"),
        extra_services=services,
    )


EMBEDDED_DATABASE = {"driver": "sqlite", "database": "instance/app.sqlite3"}


def _databases(section: Any, problems: Problems) -> tuple[dict[str, schema.Database], str]:
    if section is None or section == {}:
        section = {"default": "main", "main": dict(EMBEDDED_DATABASE)}
    if not isinstance(section, dict):
        problems.add("DATABASE", f"expected a mapping of named databases, got {_type_name(section)}")
        return {}, ""
    entries = {name: value for name, value in section.items() if name != "default"}
    default = section.get("default")
    if default is None and len(entries) == 1:
        default = next(iter(entries))
    databases: dict[str, schema.Database] = {}
    for name, entry in entries.items():
        where = f"DATABASE.{name}"
        converted = _convert(entry, schema.Database, where, problems)
        if converted is None:
            continue
        converted.params = type_free_values(converted.params)
        converted.engine = type_free_values(converted.engine)
        if not _driver_known(converted.driver):
            problems.add(f"{where}.driver", f"unknown driver {converted.driver!r} (known: "
                                            f"{', '.join(schema.KNOWN_DRIVERS)}, or any SQLAlchemy dialect)")
        databases[name] = converted
    if not entries:
        problems.add("DATABASE", "names no database")
    elif default is None:
        problems.add("DATABASE.default", f"is required with several databases ({', '.join(entries)})")
    elif not isinstance(default, str) or default not in entries:
        problems.add("DATABASE.default", f"{default!r} is not one of the databases ({', '.join(entries)})")
    return databases, str(default)


def _driver_known(driver: str) -> bool:
    if driver in schema.KNOWN_DRIVERS:
        return True
    from sqlalchemy.dialects import registry  # only for drivers outside the usual ones
    from sqlalchemy.exc import NoSuchModuleError

    try:
        registry.load(driver.replace("+", "."))
    except (NoSuchModuleError, ImportError):
        return False
    return True


def _services(section: Any, problems: Problems) -> dict[str, Any] | None:
    if section is None:
        section = {}
    if not isinstance(section, dict):
        problems.add("SERVICES", f"expected a mapping of services, got {_type_name(section)}")
        return None
    services: dict[str, Any] = {}
    for name, kind in schema.KNOWN_SERVICES.items():
        converted = _convert(section.get(name), kind, f"SERVICES.{name}", problems)
        services[name] = converted if converted is not None else kind()
    for name, value in section.items():
        if name not in schema.KNOWN_SERVICES:
            services[name] = type_free_values(value)
    return services
