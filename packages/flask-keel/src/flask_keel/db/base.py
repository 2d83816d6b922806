"""Constraint names Alembic and error messages can rely on."""

from __future__ import annotations

# Named constraints: migrations can drop or alter them by name on every database,
# and a duplicate-key error names a constraint that maps back to its columns.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
