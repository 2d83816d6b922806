"""Alembic environment: migrates every writable database that has models.

Run through `flask db ...`, which passes the app's engines and models in
`config.attributes["targets"]`. All databases move together: each gets its own
transaction and all commit only when every one succeeded (MySQL commits DDL
as it goes, so keep revisions small there).
"""

from __future__ import annotations

import logging

from alembic import context

config = context.config
log = logging.getLogger("alembic.env")


def include_object(obj, name, type_, reflected, compare_to):
    # A table in the database that no model describes belongs to someone else:
    # autogenerate must never propose dropping it.
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def run_migrations_online() -> None:
    targets = config.attributes.get("targets")
    if targets is None:
        raise SystemExit("run migrations with `flask db ...`, which knows the app's databases")
    open_ = []
    try:
        for target in targets:
            connection = target.engine.connect()
            open_.append((target, connection, connection.begin()))
        for target, connection, _ in open_:
            log.info("database %s (models %s)", target.database, target.models)
            context.configure(
                connection=connection,
                target_metadata=target.metadata,
                upgrade_token=f"{target.models}_upgrades",
                downgrade_token=f"{target.models}_downgrades",
                include_object=include_object,
                compare_type=True,
                # SQLite alters tables by copying them; batch mode writes that for us.
                render_as_batch=connection.dialect.name == "sqlite",
            )
            context.run_migrations(models=target.models)
        for _, _, transaction in open_:
            transaction.commit()
    except BaseException:
        for _, _, transaction in open_:
            if transaction.is_active:
                transaction.rollback()
        raise
    finally:
        for _, connection, _ in open_:
            connection.close()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
run_migrations_online()
