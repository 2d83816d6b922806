"""AuthorizedUser: the columns and password handling every login-able user needs.

A models module mixes it into its own user model (Fluxon's
`class User(Models.AuthorizedUser)`):

    class User(AuthorizedUser, Base):
        __tablename__ = "users"
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from app.passwords import hash_password, verify_password


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuthorizedUser(UserMixin):
    """Columns, password hashing and Flask-Login's is_authenticated/get_id."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    # scrypt with a random salt (werkzeug's default): slow for an attacker by design.
    password_hash: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(130))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "username": self.username, "email": self.email,
                "created_at": self.created_at.isoformat() if self.created_at else None}
