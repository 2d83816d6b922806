from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_keel.db import db
from Models.Persistent.members import Member


class Note(db.Model):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(50), unique=True)
    body: Mapped[str] = mapped_column(String(500), default="")

    owner: Mapped[Member] = relationship()

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "owner_id": self.owner_id, "title": self.title, "body": self.body}
