from typing import Annotated

import msgspec
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from flask_keel.payloads import Id

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
Body = Annotated[str, msgspec.Meta(max_length=500)]


class _Payload(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class SignupIn(_Payload):
    username: Annotated[str, msgspec.Meta(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
    email: Annotated[str, msgspec.Meta(max_length=130)]


class Credentials(_Payload):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class NoteIn(_Payload):
    title: Title
    body: Body = ""


class NoteChange(_Payload):
    title: Title | None = None
    body: Body | None = None


class NoteQuery(_Payload):
    owner_id: Id | None = None
    q: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)] = 50


class ShareIn(_Payload):
    note_id: Id
    to: Id


class NoteForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=50)])
