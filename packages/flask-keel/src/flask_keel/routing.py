"""URL converters: `<int:id>` matches only what an id column can hold.

werkzeug's `int` converter accepts any number of digits, so `/courses/99999999999999999999`
reached the view and overflowed the driver (SQLite: OverflowError, a 500). Here
`int` stops at flask_keel.payloads.MAX_ID (an `Integer` column on every database,
MariaDB's INT) and `bigint` at 2^63-1, for every route of the app and of its blueprints.

The bound is in the converter's regex, not only in its `to_python`: werkzeug turns a
value its regex takes and `to_python` refuses into 405 for the other methods of the
path (PATCH /courses/<huge> answered 405 while GET answered 404). A number past the
bound is simply no such page: 404 for every method.
"""

from __future__ import annotations

import builtins

from flask import Flask
from werkzeug.routing import IntegerConverter

from flask_keel.payloads import MAX_ID, MAX_INT64


def digits_up_to(largest: int) -> str:
    """A regex for the decimal numbers 0..largest (shorter ones may have leading zeros)."""
    text = str(largest)
    options = [rf"\d{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for index, digit in enumerate(text):
        low = 1 if index == 0 and len(text) > 1 else 0
        if int(digit) > low:
            rest = len(text) - index - 1
            options.append(f"{text[:index]}[{low}-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    options.append(text)
    return "(?:" + "|".join(options) + ")"


class IdConverter(IntegerConverter):
    """`<int:...>`: 0 to MAX_ID (a route's own `max` may lower it)."""

    largest = MAX_ID

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 - werkzeug's names
        largest = self.largest if max is None else builtins.min(max, self.largest)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=largest, signed=signed)
        if not fixed_digits:
            self.regex = ("-?" if signed else "") + digits_up_to(largest)


class BigIdConverter(IdConverter):
    """`<bigint:...>`, for a BigInteger key: 0 to 2^63-1."""

    largest = MAX_INT64


def register_url_converters(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["bigint"] = BigIdConverter
