"""user email unique and verified

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 13:50:00

Password resets and verification links go to a user's email address, so an address
now belongs to one account: addresses are stored lower case and unique, and
`email_verified_at` records when the owner proved they read it. Addresses written
before are lower-cased; where several accounts share one, the oldest keeps it and
each later one is left without an address (the column becomes nullable), printed
for the operator. Nobody counts as verified: existing users verify from their
account when verification is on.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
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


def upgrade_accounts() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('email', existing_type=sa.String(length=130), nullable=True)
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.email).order_by(users.c.id)).all()
    taken: set[str] = set()
    for user_id, email in rows:  # oldest first: the oldest account keeps the address
        wanted = email.strip().lower() if email and email.strip() else None
        if wanted in taken:
            print(f"user {user_id}: email {email!r} belongs to an older account; this one has none now")
            wanted = None
        if wanted:
            taken.add(wanted)
        if wanted != email:
            connection.execute(users.update().where(users.c.id == user_id).values(email=wanted))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_users_email'), ['email'])


def downgrade_accounts() -> None:
    # Accounts left without an address get an empty one (the column was NOT NULL).
    users = sa.table("users", sa.column("email", sa.String))
    op.get_bind().execute(users.update().where(users.c.email.is_(None)).values(email=""))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_email'), type_='unique')
        batch_op.drop_column('email_verified_at')
        batch_op.alter_column('email', existing_type=sa.String(length=130), nullable=False)
