"""Accounts: the users who sign up and log in.

`User` mixes in flask_keel.db.AuthorizedUser (username, password hash, email, creation
time, Flask-Login's methods). Features refer to it (`ForeignKey("users.id")`) and
add their own relationships to it from their own module.
"""

from __future__ import annotations

from flask_keel.db import AuthorizedUser, db


class User(AuthorizedUser, db.Model):
    __tablename__ = "users"
