"""The databases of one app: engines, model sets and the request-scoped session.

One SQLAlchemy session serves every database: each models module's Base is
bound to its database's engine, so `db.session.execute(select(Course))` goes to
the database that holds courses. The session lives for one app context (one
request, one CLI command) and is removed when the context ends; anything not
committed by then is rolled back.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, has_app_context
from flask.globals import app_ctx
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from app.config import Settings
from app.db.engines import create_engines
from app.db.models import ModelSet, load_model_set

EXTENSION_KEY = "app.db"
log = logging.getLogger(__name__)


def _app_context_id() -> int:
    return id(app_ctx._get_current_object())


class Databases:
    def __init__(self, settings: Settings):
        self.default = settings.default_database
        self.engines: dict[str, Engine] = create_engines(settings)
        self.readonly = {name for name, entry in settings.databases.items() if entry.readonly}
        self.model_sets: dict[str, ModelSet] = {
            name: load_model_set(name, entry.models)
            for name, entry in settings.databases.items() if entry.models
        }
        self.sessions = scoped_session(self.session_factory(), scopefunc=_app_context_id)

    def session_factory(self, **bind_overrides: Any) -> sessionmaker[Session]:
        """Sessions bound per models module; `bind_overrides` (name -> connection) is for tests."""
        binds: dict[Any, Any] = {}
        for name, model_set in self.model_sets.items():
            # The first database listing a models module owns it; later ones (replicas) are
            # reached through their engine.
            binds.setdefault(model_set.base, bind_overrides.get(name, self.engines[name]))
        default = bind_overrides.get(self.default, self.engines[self.default])
        return sessionmaker(bind=default, binds=binds, expire_on_commit=False, **(
            {"join_transaction_mode": "create_savepoint"} if bind_overrides else {}))

    def remove_session(self) -> None:
        """End the current context's session (a no-op outside an app context).

        Closing rolls back on the connection; if the database went away meanwhile
        that fails, and must neither fail the response (it is already made) nor
        leave the broken session registered for a later context.
        """
        if not has_app_context():
            return
        try:
            self.sessions.remove()
        except DBAPIError as exc:
            log.warning("discarded a database session whose connection failed: %s", exc.orig or exc)
            self.sessions.registry.clear()

    def rebind(self, **connections: Any) -> None:
        """Point the session at given connections (tests wrap each in a transaction)."""
        self.remove_session()
        self.sessions = scoped_session(self.session_factory(**connections), scopefunc=_app_context_id)

    def models(self) -> dict[str, type]:
        found: dict[str, type] = {}
        for model_set in self.model_sets.values():
            found.update(model_set.models)
        return found

    def dispose(self) -> None:
        self.remove_session()
        for engine in self.engines.values():
            engine.dispose()


class _DatabaseProxy:
    """`db`: the current app's Databases, importable anywhere like Flask-SQLAlchemy's."""

    @property
    def state(self) -> Databases:
        return current_app.extensions[EXTENSION_KEY]

    @property
    def session(self) -> Session:
        return self.state.sessions()

    def engine(self, name: str | None = None) -> Engine:
        state = self.state
        return state.engines[name or state.default]

    @property
    def engines(self) -> dict[str, Engine]:
        return self.state.engines


db = _DatabaseProxy()


def init_databases(app: Flask, settings: Settings) -> Databases:
    state = Databases(settings)
    app.extensions[EXTENSION_KEY] = state

    @app.teardown_appcontext
    def remove_session(_exc: BaseException | None) -> None:
        state.remove_session()

    @app.shell_context_processor
    def shell_context() -> dict[str, Any]:
        return {"db": db, "session": db.session, "engines": state.engines, **state.models()}

    return state
