"""Job payloads as JSON, never pickle.

Huey pickles task arguments, results and its own messages by default. A task's
arguments are very often what a user sent (an uploaded CSV, a form's fields),
and whoever can write to the queue (a shared Redis, the SQLite file) could
then run code in every consumer that unpickles it. So every payload here is
JSON (encoded by msgspec): data, never code. What a task may take and return
is what JSON holds (str, int, float, bool, None, lists, dicts with string
keys), plus datetime, date and bytes, which are tagged.

Tags are one-key objects whose key starts with "$" ({"$dt": "..."}); a dict of
the task's own whose keys start with "$" gets them doubled on the way in and
undoubled on the way out, so data can never pass for a tag.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

import msgspec
from huey.api import Error
from huey.registry import Message
from huey.serializer import Serializer

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class PayloadError(ValueError):
    """Stored bytes that are not a JSON job payload (a pickle, garbage, a foreign format)."""


class JsonSerializer(Serializer):
    """Huey's serializer interface over JSON; refuses anything else on the way in and out."""

    def _serialize(self, data: Any) -> bytes:
        try:
            return _encoder.encode(_to_json(data))
        except TypeError as exc:
            raise TypeError(f"a job payload must be JSON data (str, int, float, bool, None, list, dict "
                            f"with str keys, datetime, date, bytes): {exc}") from None

    def _deserialize(self, data: bytes) -> Any:
        if isinstance(data, memoryview):
            data = data.tobytes()
        # A pickle starts with b"\x80"; JSON with "{" or "[" here. Refuse before parsing anything.
        if data[:1] not in (b"{", b"["):
            raise PayloadError("not a JSON job payload (pickled or foreign data is never loaded)")
        try:
            return _from_json(_decoder.decode(data))
        except msgspec.DecodeError as exc:
            raise PayloadError(f"not a JSON job payload: {exc}") from None


def _to_json(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Message):
        # Huey's own message: its fields by name, the nested messages (on_complete, on_error) too.
        return {"$message": {name: _to_json(getattr(value, name)) for name in Message._fields}}
    if isinstance(value, Error):
        return {"$error": _to_json(value.metadata)}
    if isinstance(value, datetime.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"dict key {key!r} is not a str")
            converted["$" + key if key.startswith("$") else key] = _to_json(item)
        return converted
    raise TypeError(f"{type(value).__name__} is not JSON data")


_TAGS = {
    "$dt": datetime.datetime.fromisoformat,
    "$date": datetime.date.fromisoformat,
    "$bytes": base64.b64decode,
    "$error": lambda metadata: Error(_from_json(metadata)),
    "$message": lambda fields: _message(fields),
}


def _message(fields: dict[str, Any]) -> Message:
    values = {name: _from_json(fields.get(name)) for name in Message._fields}
    values["args"] = tuple(values["args"] or ())  # huey appends to it as a tuple (pipelines)
    return Message(**values)


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, item), = value.items()
        if key in _TAGS:
            return _TAGS[key](item)
    return {key[1:] if key.startswith("$$") else key: _from_json(item) for key, item in value.items()}
