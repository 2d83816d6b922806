"""Alembic environment for `flask db ...` (Flask-Migrate).

Every writable database with models is migrated by one numbered history; see
flask_keel/db/migrations.py for how revisions are split by models module, numbered,
locked and kept safe to downgrade on MySQL.
"""

from __future__ import annotations

from alembic import context
from flask import current_app

from flask_keel.db.migrations import run_migrations_online

if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
run_migrations_online(context, current_app._get_current_object())
