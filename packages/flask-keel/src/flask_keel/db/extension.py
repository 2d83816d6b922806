"""`db`: Flask-SQLAlchemy, with one bind per DATABASE entry.

    from flask_keel.db import db

    class Room(db.Model):                                   # Models/Persistent/rooms.py
        id: Mapped[int] = mapped_column(primary_key=True)

    rooms = db.session.scalars(db.select(Room)).all()       # in a view
    page = db.paginate(db.select(Room).order_by(Room.id))
    room = db.get_or_404(Room, room_id)

What the config adds to plain Flask-SQLAlchemy:
- Each DATABASE entry is a bind: the default entry is the default bind
  (`db.engine`), the others are `db.engines["<name>"]`. Engines are made by
  app.db.engines from the entry (pool sizes, SQLite pragmas, read-only guards,
  MySQL's shared TLS context), not from SQLALCHEMY_* keys.
- `models: <module>` (or a list) names the Models/Persistent modules that live
  in an entry's database. The default entry may leave it out: it then holds
  every module of Models/Persistent that no other entry lists (a new feature's
  models module needs no config). A module never names its database: its models
  get the bind of the entry that lists it (`__bind_key__` is set for them), so
  the same module can move to another database by changing the config alone.
- The session is not expired on commit (a view may return what it just wrote),
  and a session whose connection died is discarded quietly at the end of the
  request (the response is already made).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.model import Model as FlaskModel
from sqlalchemy import Engine, MetaData
from sqlalchemy.exc import DBAPIError

from flask_keel.db.base import NAMING_CONVENTION
from flask_keel.db.engines import create_database_engine, database_url

if TYPE_CHECKING:
    from flask_keel.config import Settings

log = logging.getLogger(__name__)

PACKAGE = "Models.Persistent"
_DEFAULT = object()
# Module path -> bind key (None: the default database), from the config of the app being
# set up. Read when a model class is created, so it is filled before the modules are imported.
module_binds: dict[str, str | None] = {}


class ModelsModuleError(Exception):
    """A DATABASE entry names a models module that cannot be imported."""


class Model(FlaskModel):
    """db.Model's base: a model lives in the database whose entry lists its module."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "__bind_key__" not in cls.__dict__ and "__table__" not in cls.__dict__:
            key = module_binds.get(cls.__module__, _DEFAULT)
            if key is not _DEFAULT and key is not None:
                cls.__bind_key__ = key
        super().__init_subclass__(**kwargs)


class Database(SQLAlchemy):
    def init_databases(self, app: Flask, settings: Settings) -> None:
        """Binds from the DATABASE section, the models modules imported, then Flask-SQLAlchemy."""
        binds: dict[str | None, dict[str, Any]] = {}
        for name, entry in settings.databases.items():
            key = None if name == settings.default_database else name
            binds[key] = {"url": database_url(entry, settings), "entry": name}
        app.config["SQLALCHEMY_DATABASE_URI"] = None
        app.config["SQLALCHEMY_BINDS"] = binds
        wanted: dict[str, str | None] = {}
        for name, modules in model_modules(settings).items():
            for module in map(module_path, modules):  # the first entry listing a module owns it (replicas)
                wanted.setdefault(module, None if name == settings.default_database else name)
        module_binds.update(wanted)
        for module in wanted:
            import_models(module)
        self._check_binds(wanted)
        # Relationships declared from one side (a backref such as User.teacher) exist
        # only once the mappers are configured, which SQLAlchemy otherwise leaves to
        # the first query: a view naming one before any query ran would fail.
        self.Model.registry.configure()
        self.init_app(app)
        # `flask shell` has `db` and every model (Flask-SQLAlchemy), plus these.
        app.shell_context_processor(lambda: {"session": self.session, "engines": self.engines_by_name(app)})

    def _check_binds(self, wanted: dict[str, str | None]) -> None:
        for mapper in self.Model.registry.mappers:
            module = mapper.class_.__module__
            if module in wanted and mapper.local_table.metadata.info.get("bind_key") != wanted[module]:
                raise ModelsModuleError(
                    f"{module} was imported before the app was set up, so its models are not in the database "
                    "whose DATABASE entry lists it; import models modules only from code create_app loads")

    # Engines come from flask_keel.db.engines, with this project's defaults.
    def _apply_driver_defaults(self, options: dict[str, Any], app: Flask) -> None:
        pass

    def _make_engine(self, bind_key: str | None, options: dict[str, Any], app: Flask) -> Engine:
        from flask_keel.extensions import SETTINGS_KEY

        settings = app.extensions[SETTINGS_KEY]
        name = options["entry"]
        return create_database_engine(name, settings.databases[name], settings)

    def _teardown_session(self, exc: BaseException | None) -> None:
        # Closing rolls back on the connection; if the database went away meanwhile that
        # fails, and must neither fail the response (already made) nor leave the broken
        # session registered for a later context.
        try:
            self.session.remove()
        except DBAPIError as error:
            log.warning("discarded a database session whose connection failed: %s", error.orig or error)
            self.session.registry.clear()

    def engines_by_name(self, app: Flask | None = None) -> dict[str, Engine]:
        """Every DATABASE entry's engine, by the entry's name."""
        from flask_keel.extensions import SETTINGS_KEY

        app = app or current_app._get_current_object()
        settings = app.extensions[SETTINGS_KEY]
        engines = self._app_engines[app]
        return {name: engines[None if name == settings.default_database else name]
                for name in settings.databases}

    def models_of(self, app: Flask | None = None) -> dict[str, type]:
        """The mapped classes of the modules this app's DATABASE entries name, by class name."""
        from flask_keel.extensions import SETTINGS_KEY

        app = app or current_app._get_current_object()
        modules = {module_path(module) for names in model_modules(app.extensions[SETTINGS_KEY]).values()
                   for module in names}
        return {mapper.class_.__name__: mapper.class_ for mapper in self.Model.registry.mappers
                if mapper.class_.__module__ in modules}


def module_path(models: str) -> str:
    return models if "." in models else f"{PACKAGE}.{models}"


def model_modules(settings: Settings) -> dict[str, list[str]]:
    """The models modules of each DATABASE entry that has some, as the config names them
    (`school`, `pkg.models`), in the order their migrations run."""
    found = {name: entry.model_names for name, entry in settings.databases.items() if entry.model_names}
    default = settings.databases.get(settings.default_database)
    if default is not None and default.models is None:
        listed = {module for modules in found.values() for module in modules}
        folder = settings.root / Path(*PACKAGE.split("."))
        modules = sorted(path.stem for path in folder.glob("*.py") if not path.stem.startswith("_"))
        unlisted = [module for module in modules if module not in listed]
        if unlisted:
            found[settings.default_database] = unlisted
    return found


def import_models(path: str) -> None:
    try:
        importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (exc.name == path or path.startswith(exc.name + ".")):
            raise ModelsModuleError(f"DATABASE: models module {path} not found") from None
        raise


db = Database(model_class=Model, metadata=MetaData(naming_convention=NAMING_CONVENTION),
              session_options={"expire_on_commit": False})


def init_databases(app: Flask, settings: Settings) -> Database:
    db.init_databases(app, settings)
    return db
