"""Reading a JSON request body into a typed struct, or a 400 that names the field.

    payload = json_body(CourseIn)      # CourseIn is a msgspec.Struct in Models/Forms

Decoding is msgspec's: types, lengths and ranges are checked as the body is
parsed, unknown fields are refused when the struct forbids them, and a wrong
value answers e.g. `{"error": "invalid_payload", "field": "teacher_id",
"message": "Expected `int`, got `str`"}`.
"""

from __future__ import annotations

import re
from functools import cache
from itertools import accumulate
from typing import Annotated, Any, TypeVar

import msgspec
import msgspec.inspect
from flask import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

T = TypeVar("T")

# The largest id an `Integer` column holds on every database: MariaDB/MySQL make it a
# signed 32-bit INT (SQLite and PostgreSQL's are wider). An id past it can never match
# a row; refused here, it is a 400 naming the field on every path, instead of a
# database error with no field (or a 500 over a socket). A `BigInteger` key takes BigId.
MAX_ID = 2**31 - 1
MAX_INT64 = 2**63 - 1
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
BigId = Annotated[int, msgspec.Meta(ge=1, le=MAX_INT64)]
Int64 = Annotated[int, msgspec.Meta(ge=-MAX_INT64 - 1, le=MAX_INT64)]

# How deeply a JSON body or socket payload may nest. Decoders recurse once per level
# (msgspec, the json module, python-socketio's packet walk): refused before any of them
# runs, a deep document is a 400, never a RecursionError.
MAX_DEPTH = 64


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


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def nested_deeper_than(data: bytes | str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests arrays and objects more than `limit` deep, found without
    recursion (brackets inside strings do not count). Linear in the text, and a count
    in C for the usual document with fewer brackets than the limit."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def too_deep() -> InvalidPayload:
    return InvalidPayload(f"the body is nested too deeply (more than {MAX_DEPTH} levels)")


def decode(data: bytes | str, kind: type[T]) -> T:
    if not data:
        raise InvalidPayload("the request body is empty; send a JSON object")
    if nested_deeper_than(data):
        raise too_deep()
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
        raise too_deep() from None


def check_json_payload(payload: Any) -> None:
    """A payload that came decoded (a socket message) holds only what a JSON body could:
    a lone surrogate ("\\ud800") is refused as HTTP refuses it, a 400, not a 500 later."""
    try:
        msgspec.json.encode(payload)
    except UnicodeEncodeError:
        raise InvalidPayload("the body is not valid JSON (a string holds a lone surrogate)") from None
    except RecursionError:
        raise too_deep() from None
    except (TypeError, OverflowError) as exc:  # an integer past 64 bits
        raise InvalidPayload(f"the body is not valid JSON ({exc})") from None


class NotJson(UnsupportedMediaType):
    error_code = "unsupported_media_type"
    description = "Send the body as JSON, with Content-Type: application/json."


def require_json_type() -> None:
    """A body sent as another type (text/plain, a form) is not taken for JSON: 415.
    No Content-Type at all is read as JSON, for clients that send none."""
    mimetype = request.mimetype
    if mimetype and not request.is_json:
        raise NotJson()


def json_body(kind: type[T]) -> T:
    require_json_type()
    return decode(request.get_data(cache=True), kind)


_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}


def _scalar(info: Any) -> Any:
    """The one non-None type of `X | None`, else the type itself."""
    if isinstance(info, msgspec.inspect.UnionType):
        types = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        return types[0] if len(types) == 1 else info
    return info


def _query_value(text: str, info: Any, name: str) -> Any:
    """One query-string value as the field's type, written the one plain way
    (`5`, not `5.0`, `1e1` or `null`)."""
    info = _scalar(info)
    if isinstance(info, msgspec.inspect.IntType):
        if not _INTEGER.fullmatch(text) or len(text) > 40:
            raise InvalidPayload("Expected an integer, like 5", name)
        return int(text)
    if isinstance(info, msgspec.inspect.FloatType):
        if not _NUMBER.fullmatch(text) or len(text) > 40:
            raise InvalidPayload("Expected a number, like 2.5", name)
        return float(text)
    if isinstance(info, msgspec.inspect.BoolType):
        if text not in _BOOLEANS:
            raise InvalidPayload("Expected true or false", name)
        return _BOOLEANS[text]
    return text


@cache
def _query_fields(kind: type) -> dict[str, Any]:
    return {field.encode_name: field.type for field in msgspec.inspect.type_info(kind).fields}


def query_args(kind: type[T]) -> T:
    """Query-string arguments as a struct (`?limit=5` gives an int), or a 400 naming the argument.

    Each argument is given once (a repeated one is refused, except for list fields),
    in its plain form, and is then checked against the struct's constraints.
    """
    fields = _query_fields(kind)
    values: dict[str, Any] = {}
    for name, given in request.args.lists():
        if name not in fields:
            raise InvalidPayload("is not an accepted query argument", name)
        info = fields[name]
        if isinstance(info, msgspec.inspect.ListType):
            values[name] = [_query_value(text, info.item_type, name) for text in given]
        elif len(given) > 1:
            raise InvalidPayload("is given more than once", name)
        else:
            values[name] = _query_value(given[0], info, name)
    try:
        return msgspec.convert(values, kind)
    except msgspec.ValidationError as exc:
        reason, field = _field_of(str(exc))
        raise InvalidPayload(reason, field) from None


__all__ = ["MAX_ID", "BigId", "Id", "Int64", "InvalidPayload", "decode", "json_body", "query_args"]
