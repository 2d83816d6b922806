"""Signup and login: Flask-WTF forms for the pages, msgspec structs for the JSON services."""

from __future__ import annotations

from typing import Annotated

import msgspec
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class SignupForm(FlaskForm):
    username = StringField("Username", validators=[
        DataRequired(), Length(3, 100),
        Regexp(USERNAME_PATTERN, message="Use letters, digits, dots, dashes or underscores.")])
    email = EmailField("Email", validators=[
        DataRequired(), Length(max=130),
        Regexp(EMAIL_PATTERN, message="Enter an email address like name@example.org.")])
    password = PasswordField("Password", validators=[DataRequired(), Length(8, 256)])
    confirm = PasswordField("Repeat the password", validators=[
        DataRequired(), EqualTo("password", message="The two passwords differ.")])


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class SignupIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    username: Annotated[str, msgspec.Meta(min_length=3, max_length=100, pattern=USERNAME_PATTERN)]
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
    email: Annotated[str, msgspec.Meta(max_length=130, pattern=EMAIL_PATTERN)]


class LoginIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


# -- password reset, email verification, change of email ------------------------------

EmailAddress = Annotated[str, msgspec.Meta(min_length=3, max_length=130, pattern=EMAIL_PATTERN)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
NewPassword = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]


def _email_field(label: str = "Email") -> EmailField:
    return EmailField(label, validators=[
        DataRequired(), Length(max=130),
        Regexp(EMAIL_PATTERN, message="Enter an email address like name@example.org.")])


class ResetRequestForm(FlaskForm):
    email = _email_field()


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(8, 256)])
    confirm = PasswordField("Repeat the new password", validators=[
        DataRequired(), EqualTo("password", message="The two passwords differ.")])


class ResendVerificationForm(FlaskForm):
    email = _email_field()


class ChangeEmailForm(FlaskForm):
    email = _email_field("New email address")
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=256)])


class EmailIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: EmailAddress


class ResetIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    token: Token
    password: NewPassword


class TokenIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    token: Token


class ChangeEmailIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: EmailAddress
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class ResendIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Left out by a signed-in user: their own address.
    email: EmailAddress | None = None
