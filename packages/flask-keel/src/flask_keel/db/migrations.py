"""What migrations/env.py runs for `flask db ...` (Flask-Migrate, Alembic underneath).

One numbered history (0001_, 0002_, ...) for every database. Each revision has
an `upgrade_<module>()` / `downgrade_<module>()` per models module, and a
database runs the functions of the modules its DATABASE entry lists, in that
order (downgrades in reverse). So a revision applies to whichever database
holds those models, whatever it is called, and removing a feature removes its
functions from the history.

- Autogenerate (`flask db migrate -m "add rooms"`) compares each writable
  database with the models of its modules, splits the changes by the module
  that owns each table, numbers the revision (0003_add_rooms.py) and never
  proposes dropping a table no model describes.
- A downgrade that drops a table does not first drop that table's indexes one
  by one: MySQL refuses to drop an index a foreign key needs, and dropping the
  table drops its indexes anyway.
- upgrade, downgrade and stamp hold a lock per database (flask_keel.db.locks), so
  containers starting together apply each revision once.
- Read-only databases are never migrated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alembic.operations import ops
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import Engine, MetaData
from sqlalchemy.types import TypeDecorator

from flask_keel.db.extension import db, model_modules, module_path
from flask_keel.db.locks import migration_lock
from flask_keel.extensions import SETTINGS_KEY

log = logging.getLogger("alembic.env")

# The id Alembic makes up when none is given: twelve hex digits.
_RANDOM_REVISION = re.compile(r"[0-9a-f]{12}")


def function_name(module: str) -> str:
    """`school` -> `school`, `extra.reports` -> `extra_reports`: the suffix of upgrade_<...>()."""
    return re.sub(r"\W", "_", module)


@dataclass(frozen=True)
class Target:
    """One database to migrate and the models modules whose tables it holds."""

    database: str
    modules: tuple[str, ...]  # as the config names them (`school`, `pkg.models`)
    engine: Engine
    metadata: MetaData

    @property
    def paths(self) -> set[str]:
        return {module_path(module) for module in self.modules}


def targets(app: Flask, *, autogenerate: bool) -> list[Target]:
    """Writable databases with models; for autogenerate one per set of modules."""
    settings = app.extensions[SETTINGS_KEY]
    engines = db.engines_by_name(app)
    found: list[Target] = []
    seen: set[tuple[str, ...]] = set()
    listed = model_modules(settings)
    for name, entry in settings.databases.items():
        modules = tuple(listed.get(name, ()))
        if entry.readonly or not modules or (autogenerate and modules in seen):
            continue
        seen.add(modules)
        key = None if name == settings.default_database else name
        found.append(Target(name, modules, engines[name], db.metadatas[key]))
    return found


def table_modules() -> dict[str, str]:
    """Table name -> the module of the model that defines it."""
    return {mapper.local_table.name: mapper.class_.__module__ for mapper in db.Model.registry.mappers
            if mapper.local_table is not None}


def include_object_for(target: Target, owners: dict[str, str]) -> Callable[..., bool]:
    def include_object(obj: Any, name: str, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ != "table":
            return True
        if reflected and compare_to is None:
            # A table in the database that no model describes belongs to someone else:
            # autogenerate must never propose dropping it.
            return False
        owner = owners.get(name)
        return owner is None or owner in target.paths  # another app's models may share the metadata

    return include_object


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """A column type of our own (flask_keel.db.types) is written as the type it stores, so a
    revision needs no import of the app and stays valid if the class changes later."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def next_revision_id(script: ScriptDirectory) -> str:
    """The next number: 0001 for the first, then one more than the highest."""
    numbers = [int(revision.revision) for revision in script.walk_revisions()
               if re.fullmatch(r"\d+", revision.revision)]
    return f"{max(numbers, default=0) + 1:04d}"


def _module_of(op: Any, owners: dict[str, str], default: str) -> str:
    return owners.get(getattr(op, "table_name", None) or "", default)


def _without_index_drops_of_dropped_tables(operations: list[Any]) -> list[Any]:
    dropped = {op.table_name for op in operations if isinstance(op, ops.DropTableOp)}
    kept = []
    for op in operations:
        if isinstance(op, ops.DropIndexOp) and op.table_name in dropped:
            continue
        if isinstance(op, ops.ModifyTableOps) and op.table_name in dropped:
            op.ops = [inner for inner in op.ops if not isinstance(inner, ops.DropIndexOp)]
            if not op.ops:
                continue
        kept.append(op)
    return kept


def revision_directives(script_directory: ScriptDirectory, modules_of: dict[str, tuple[str, ...]]):
    """The hook that numbers a new revision and splits its operations by models module.

    `modules_of` maps each target's upgrade token to its modules (config names).
    """

    def process(context: Any, revision: Any, directives: list[Any]) -> None:
        script = directives[0]
        autogenerate = getattr(context.config.cmd_opts, "autogenerate", False)
        if autogenerate and all(upgrade.is_empty() for upgrade in script.upgrade_ops_list):
            directives[:] = []
            log.info("No changes in schema detected.")
            return
        if script.rev_id is None or _RANDOM_REVISION.fullmatch(script.rev_id):
            script.rev_id = next_revision_id(script_directory)
        if not autogenerate:
            return
        owners = table_modules()
        upgrades: dict[str, list[Any]] = {}
        downgrades: dict[str, list[Any]] = {}
        for upgrade, downgrade in zip(script.upgrade_ops_list, script.downgrade_ops_list, strict=True):
            modules = modules_of[upgrade.upgrade_token]
            by_path = {module_path(module): module for module in modules}
            for op in upgrade.ops:
                module = by_path.get(_module_of(op, owners, ""), modules[0])
                upgrades.setdefault(module, []).append(op)
            for op in downgrade.ops:
                module = by_path.get(_module_of(op, owners, ""), modules[0])
                downgrades.setdefault(module, []).append(op)
        script.upgrade_ops = [ops.UpgradeOps(operations, upgrade_token=f"{function_name(module)}_upgrades")
                              for module, operations in upgrades.items()]
        script.downgrade_ops = [
            ops.DowngradeOps(_without_index_drops_of_dropped_tables(downgrades.get(module, [])),
                             downgrade_token=f"{function_name(module)}_downgrades")
            for module in upgrades]

    return process


def run_migrations_online(context: Any, app: Flask) -> None:
    """Migrate every target under the migration lock, all databases committing together.

    Each database gets its own transaction; all commit only when every one
    succeeded (MySQL commits DDL as it goes, so keep revisions small there).
    """
    autogenerate = bool(getattr(context.config.cmd_opts, "autogenerate", False))
    chosen = targets(app, autogenerate=autogenerate)
    if not chosen:
        log.info("no writable database has models; nothing to migrate")
        return
    config = context.config
    modules = []
    for target in chosen:
        modules += [module for module in target.modules if module not in modules]
    # Read by script.py.mako: the upgrade_<module>() functions a new revision has.
    config.set_main_option("model_modules", ",".join(function_name(module) for module in modules))
    tokens = {f"{target.database}_target": target.modules for target in chosen}
    hook = revision_directives(ScriptDirectory.from_config(config), tokens)
    owners = table_modules()
    opened = []
    with migration_lock([target.engine for target in chosen]):
        try:
            for target in chosen:
                connection = target.engine.connect()
                opened.append((connection, connection.begin()))
            for index, (target, (connection, _)) in enumerate(zip(chosen, opened, strict=True)):
                log.info("database %s (models %s)", target.database, ", ".join(target.modules))
                context.configure(
                    connection=connection,
                    target_metadata=target.metadata,
                    upgrade_token=f"{target.database}_target",
                    downgrade_token=f"{target.database}_target",
                    include_object=include_object_for(target, owners),
                    compare_type=True,
                    render_item=render_item,
                    # SQLite alters tables by copying them; batch mode writes that for us.
                    render_as_batch=connection.dialect.name == "sqlite",
                    # Once, after the last database: it sees every database's changes.
                    process_revision_directives=hook if index == len(chosen) - 1 else None,
                )
                context.run_migrations(models=[function_name(module) for module in target.modules])
            for _, transaction in opened:
                transaction.commit()
        except BaseException:
            for _, transaction in opened:
                if transaction.is_active:
                    transaction.rollback()
            raise
        finally:
            for connection, _ in opened:
                connection.close()


__all__ = ["run_migrations_online"]
