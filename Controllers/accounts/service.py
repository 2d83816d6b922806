"""Account operations shared by the pages and the JSON endpoints."""

from __future__ import annotations

from Controllers.accounts.verification import start_verification
from flask_keel.db import db, normalise_username
from Models.Persistent.accounts import User, normalise_email


def username_taken(username: str) -> bool:
    return db.session.scalar(db.select(User.id).where(User.username == normalise_username(username))) is not None


def email_taken(email: str) -> bool:
    return db.session.scalar(db.select(User.id).where(User.email == normalise_email(email))) is not None


def create_user(username: str, email: str, password: str) -> User:
    """Insert a user with a hashed password; a duplicate username or email raises IntegrityError (409)."""
    user = User(username=username, email=email)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    start_verification(user)  # the confirmation link, unless EMAIL_VERIFICATION is off
    return user
