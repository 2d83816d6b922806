"""Accounts: the users who sign up and log in.

`User` mixes in flask_keel.db.AuthorizedUser (username, password hash, creation
time, Flask-Login's methods). Features refer to it (`ForeignKey("users.id")`) and
add their own relationships to it from their own module.

The email address is where password resets and verification links go: one account
per address (stored lower case), empty for accounts made before addresses were unique
(migration 0003), and `email_verified_at` says when its owner proved they read it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, validates

from flask_keel.db import AuthorizedUser, UTCDateTime, db


def normalise_email(address: str) -> str:
    """The one form an address is stored and looked up in: no surrounding spaces, lower case."""
    return address.strip().lower()


class User(AuthorizedUser, db.Model):
    __tablename__ = "users"

    email: Mapped[str | None] = mapped_column(String(130), unique=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @validates("email")
    def _normalise_email(self, _key: str, address: str | None) -> str | None:
        return normalise_email(address) if address is not None else None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "email_verified": self.email_verified}
