"""URL converters: `<int:id>` matches only what a database column can hold.

werkzeug's `int` converter accepts any number of digits, so `/courses/99999999999999999999`
reached the view and overflowed the driver (SQLite: OverflowError, a 500). Here
`int` stops at the largest signed 64-bit integer and a larger number is simply
no such page (404), for every route of the app and of its blueprints.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

from flask_keel.payloads import MAX_INT64


class Int64Converter(IntegerConverter):
    def __init__(self, map, fixed_digits=0, min=None, max=MAX_INT64, signed=False):  # noqa: A002 - werkzeug's names
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_INT64 if max is None else max,
                         signed=signed)


def register_url_converters(app: Flask) -> None:
    app.url_map.converters["int"] = Int64Converter
