"""Databases through Flask-SQLAlchemy: `db.Model`, `db.session`, `db.select`,
`db.paginate`, `db.get_or_404`, one bind per DATABASE entry (see extension.py).

    from app.db import db
    course = db.get_or_404(Course, course_id)
    db.session.commit()
"""

from app.db.authorized_user import AuthorizedUser, normalise_username
from app.db.base import NAMING_CONVENTION
from app.db.engines import ReadOnlyDatabaseError
from app.db.extension import Database, ModelsModuleError, db, init_databases
from app.db.types import UTCDateTime

__all__ = ["NAMING_CONVENTION", "AuthorizedUser", "Database", "ModelsModuleError", "ReadOnlyDatabaseError",
           "UTCDateTime", "db", "init_databases", "normalise_username"]
