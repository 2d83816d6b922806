"""The logged-in user as the session knows them, with the database row loaded on demand.

A page that only shows the username (the navigation bar on every page) costs
no query; the first use of anything else (`current_user.teacher`,
`current_user.email`) loads the row once for the request.
"""

from __future__ import annotations

from typing import Any

from flask_login import UserMixin
from werkzeug.exceptions import Unauthorized

_UNLOADED = object()


class AccountGone(Unauthorized):
    error_code = "not_logged_in"
    description = "This account no longer exists; log in again."


class SessionUser(UserMixin):
    def __init__(self, user_id: int, username: str, loader):
        self.id = user_id
        self.username = username
        self._loader = loader
        self._record: Any = _UNLOADED

    @property
    def record(self):
        """The ORM row of this user (loaded on first use).

        The row must still be the same account: an id can be reused after a
        deletion (SQLite does), and a session must never load someone else.
        """
        if self._record is _UNLOADED:
            row = self._loader(self.id)
            self._record = row if row is not None and row.username == self.username else None
        if self._record is None:
            raise AccountGone()
        return self._record

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.record, name)

    def __repr__(self) -> str:
        return f"<SessionUser {self.id} {self.username!r}>"
