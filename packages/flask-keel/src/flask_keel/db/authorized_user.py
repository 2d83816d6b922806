"""AuthorizedUser: the columns and password handling every login-able user needs.

A models module mixes it into its own user model:

    class User(AuthorizedUser, Base):
        __tablename__ = "users"
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, validates

from flask_keel.db.types import UTCDateTime
from flask_keel.passwords import hash_password, verify_password


def utc_now() -> datetime:
    return datetime.now(UTC)


def normalise_username(username: str) -> str:
    """The one form a username is stored and looked up in, on every database.

    MariaDB's default collation already treats `ALICE`, `alice ` and `alice` as one
    value while SQLite treats them as three; normalising before every write and
    lookup makes them one everywhere (NFKC folds look-alike forms, casefold the case).
    """
    return unicodedata.normalize("NFKC", username).strip().casefold()


class AuthorizedUser(UserMixin):
    """Columns, password hashing and Flask-Login's is_authenticated/get_id."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    # scrypt with a random salt (werkzeug's default): slow for an attacker by design.
    password_hash: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(130))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    @validates("username")
    def _normalise_username(self, _key: str, username: str) -> str:
        return normalise_username(username)

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "username": self.username, "email": self.email,
                "created_at": self.created_at.isoformat() if self.created_at else None}
