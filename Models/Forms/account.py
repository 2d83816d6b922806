"""The account page's forms (Flask-WTF) and what its JSON endpoints and named requests
accept (msgspec): sign out everywhere, change the password, delete the account."""

from __future__ import annotations

from typing import Annotated

import msgspec
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

Password = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
NewPassword = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]


class SignOutEverywhereForm(FlaskForm):
    """Only the CSRF token: the button is the whole form."""


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=256)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(8, 256)])
    confirm = PasswordField("Repeat the new password", validators=[
        DataRequired(), EqualTo("new_password", message="The two passwords differ.")])


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=256)],
                             description="Deleting your account removes everything that is yours. It cannot be undone.")


class ChangePasswordIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    current_password: Password
    new_password: NewPassword


class DeleteAccountIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    password: Password


class NoFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request that takes nothing: whatever is sent (a `user_id`, say) is refused, not ignored."""
