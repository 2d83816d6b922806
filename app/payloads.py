"""Reading a JSON request body into a typed struct, or a 400 that names the field.

    payload = json_body(CourseIn)      # CourseIn is a msgspec.Struct in Models/Forms

Decoding is msgspec's: types, lengths and ranges are checked as the body is
parsed, unknown fields are refused when the struct forbids them, and a wrong
value answers e.g. `{"error": "invalid_payload", "field": "teacher_id",
"message": "Expected `int`, got `str`"}`.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from flask import request
from werkzeug.exceptions import BadRequest

T = TypeVar("T")


class InvalidPayload(BadRequest):
    """400 with the offending field in the JSON error body."""

    error_code = "invalid_payload"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _field_of(message: str) -> tuple[str, str | None]:
    reason, _, location = message.partition(" - at `$")
    location = location.rstrip("`").lstrip(".")
    return reason, location or None


def decode(data: bytes | str, kind: type[T]) -> T:
    if not data:
        raise InvalidPayload("the request body is empty; send a JSON object")
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        reason, field = _field_of(str(exc))
        if reason.startswith(("Object missing required field", "Object contains unknown field")):
            key = reason.split("`")[1]
            field = f"{field}.{key}" if field else key
            reason = "is required" if "missing" in reason else "is not an accepted field"
        raise InvalidPayload(reason, field) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError.
        raise InvalidPayload(f"the body is not valid JSON ({exc})") from None
    except RecursionError:
        raise InvalidPayload("the body is nested too deeply") from None


def json_body(kind: type[T]) -> T:
    return decode(request.get_data(cache=True), kind)


def query_args(kind: type[T]) -> T:
    """Query-string arguments converted like a body (`?limit=5` gives an int)."""
    try:
        return msgspec.convert(request.args.to_dict(), kind, strict=False)
    except msgspec.ValidationError as exc:
        reason, field = _field_of(str(exc))
        if reason.startswith("Object contains unknown field"):
            field, reason = reason.split("`")[1], "is not an accepted query argument"
        raise InvalidPayload(reason, field) from None
