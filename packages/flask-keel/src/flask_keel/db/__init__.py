"""Databases through Flask-SQLAlchemy: `db.Model`, `db.session`, `db.select`,
`db.paginate`, `db.get_or_404`, one bind per DATABASE entry (see extension.py).

    from flask_keel.db import db
    course = db.get_or_404(Course, course_id)
    db.session.commit()
"""

from flask_keel.db.authorized_user import AuthorizedUser, normalise_username
from flask_keel.db.base import NAMING_CONVENTION
from flask_keel.db.engines import ReadOnlyDatabaseError
from flask_keel.db.extension import Database, ModelsModuleError, db
from flask_keel.db.types import UTCDateTime

__all__ = ["NAMING_CONVENTION", "AuthorizedUser", "Database", "ModelsModuleError", "ReadOnlyDatabaseError",
           "UTCDateTime", "db", "normalise_username"]
