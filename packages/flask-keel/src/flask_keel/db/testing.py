"""Helpers for tests of an app built on this template.

    def test_something(app):
        with rolled_back(app):
            ...   # every commit becomes a savepoint; nothing is left behind
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import Flask

from flask_keel.db.extension import db


@contextlib.contextmanager
def rolled_back(app: Flask) -> Iterator[None]:
    """Run the block with each of the app's databases inside a transaction that is
    rolled back afterwards: the app's own commits become savepoints."""
    with app.app_context():
        engines = db.engines
    originals = dict(engines)
    connections = {key: engine.connect() for key, engine in originals.items()}
    transactions = [connection.begin() for connection in connections.values()]
    engines.update(connections)  # type: ignore[attr-defined] # the session binds to these connections
    db.session.session_factory.configure(join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        db.session.session_factory.kw.pop("join_transaction_mode", None)
        engines.update(originals)  # type: ignore[attr-defined]
        for transaction in transactions:
            transaction.rollback()
        for connection in connections.values():
            connection.close()


def dispose(app: Flask) -> None:
    """Close every pooled connection of the app (a test's databases are about to be dropped)."""
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def forget_models() -> None:
    """Unmap every model and forget the modules that define them, so that the next
    import defines them afresh (tests that load several projects in one process)."""
    import sys

    from flask_keel.db.extension import module_binds

    modules = {mapper.class_.__module__ for mapper in db.Model.registry.mappers}
    db.Model.registry.dispose()
    for metadata in db.metadatas.values():
        metadata.clear()
    for name in modules:
        sys.modules.pop(name, None)
    module_binds.clear()
