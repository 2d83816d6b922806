"""Schema versions with Alembic: Fluxon's `saveschema` and `updateschema N`.

One history in migrations/versions/, numbered 0001_, 0002_, ... Each revision
has an `upgrade_<models>()` per models module (`upgrade_school()`), so it
applies to every database whose DATABASE entry names those models, whatever
the database is called. Read-only databases are never migrated.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData

from app.config import Settings
from app.db.database import Databases

MIGRATIONS_DIR = "migrations"


@dataclass(frozen=True)
class Target:
    """One database to migrate, with the models that define its schema."""

    database: str
    models: str
    engine: Engine
    metadata: MetaData


def targets(state: Databases, *, one_per_models: bool = False) -> list[Target]:
    """Writable databases that have models. For autogenerate, one per models module."""
    found: list[Target] = []
    seen: set[str] = set()
    for name, model_set in state.model_sets.items():
        if name in state.readonly or (one_per_models and model_set.name in seen):
            continue
        seen.add(model_set.name)
        found.append(Target(name, model_set.name, state.engines[name], model_set.base.metadata))
    return found


def alembic_config(settings: Settings, state: Databases, *, one_per_models: bool = False) -> Config:
    # stdout is looked up now, not at import, so output goes where the caller redirected it.
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", str(settings.root / MIGRATIONS_DIR))
    # A revision file is named after its number: 0003_add_course_room.py
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    chosen = targets(state, one_per_models=one_per_models)
    config.set_main_option("model_sets", ",".join(sorted({target.models for target in chosen})))
    config.attributes["targets"] = chosen
    return config


def next_revision_id(config: Config) -> str:
    """The next number in the history: 0001 for the first, then one more than the highest."""
    numbers = [int(script.revision) for script in ScriptDirectory.from_config(config).walk_revisions()
               if re.fullmatch(r"\d+", script.revision)]
    return f"{max(numbers, default=0) + 1:04d}"
