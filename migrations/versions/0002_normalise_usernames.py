"""normalise usernames

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:00:00

Usernames are now stored in one form on every database (flask_keel.db.normalise_username:
NFKC, no surrounding spaces, case folded). Rows written before are rewritten in
that form. Where two rows fold to the same name (possible on SQLite, where
`Alice` and `alice` were two accounts; MariaDB's collation never allowed it),
the oldest account keeps the name and each later one becomes `<name>-<id>`, so
no login is lost and none is merged into another; the renamed accounts are
printed for the operator to tell their owners.
"""
import unicodedata
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade(models: Sequence[str]) -> None:
    # The models modules of the database being migrated, in config order; a module
    # this revision does not touch has nothing to do.
    for name in models:
        globals().get(f"upgrade_{name}", lambda: None)()


def downgrade(models: Sequence[str]) -> None:
    for name in reversed(models):
        globals().get(f"downgrade_{name}", lambda: None)()


def _normalise(username: str) -> str:
    # The same rule as flask_keel.db.normalise_username, frozen here: a migration must not
    # change meaning when the app's code changes later.
    return unicodedata.normalize("NFKC", username).strip().casefold()


def upgrade_accounts() -> None:
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    final: dict[int, str] = {}
    taken: set[str] = set()
    for user_id, username in rows:  # oldest first: the oldest account keeps the name
        wanted = _normalise(username)
        if wanted in taken:
            wanted = f"{wanted}-{user_id}"[:100]
            print(f"user {user_id}: {username!r} folds onto an older account's name; renamed {wanted!r}")
        taken.add(wanted)
        final[user_id] = wanted
    changed = [(user_id, final[user_id]) for user_id, username in rows if final[user_id] != username]
    # Two passes, so that no row ever holds a name another still has (the unique index).
    for user_id, _ in changed:
        connection.execute(users.update().where(users.c.id == user_id).values(username=f"\x00renaming {user_id}"))
    for user_id, name in changed:
        connection.execute(users.update().where(users.c.id == user_id).values(username=name))


def downgrade_accounts() -> None:
    # The original spellings are not kept: going back leaves the normalised names,
    # which the previous code also accepts.
    pass
