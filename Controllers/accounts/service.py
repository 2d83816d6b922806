"""Account operations shared by the pages and the JSON endpoints."""

from __future__ import annotations

from flask_keel.db import db, normalise_username
from Models.Persistent.accounts import User


def username_taken(username: str) -> bool:
    return db.session.scalar(db.select(User.id).where(User.username == normalise_username(username))) is not None


def create_user(username: str, email: str, password: str) -> User:
    """Insert a user with a hashed password; a duplicate username raises IntegrityError (409)."""
    user = User(username=username, email=email)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user
