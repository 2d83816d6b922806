"""Databases: engines per DATABASE entry, models per database, one request-scoped session.

    from app.db import db
    course_id = db.session.scalar(insert(Course).values(...).returning(Course.id))
    db.session.commit()
"""

from app.db.authorized_user import AuthorizedUser, normalise_username
from app.db.base import NAMING_CONVENTION, model_metadata
from app.db.database import Databases, db, init_databases
from app.db.engines import ReadOnlyDatabaseError

__all__ = ["NAMING_CONVENTION", "AuthorizedUser", "Databases", "ReadOnlyDatabaseError", "db", "init_databases",
           "model_metadata", "normalise_username"]
