"""JSON Schemas (OpenAPI 3.1 dialect) of the types views use, by msgspec.

Every type of one document goes to one `msgspec.json.schema_components` call, so
two structs share a component only when they are the same class. A type msgspec
cannot describe is rewritten first: a class with `to_dict()` (a model) is what
its `to_dict` annotation says, anything else opaque is any JSON value.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Annotated, Any, get_args, get_origin

import msgspec

REF_TEMPLATE = "#/components/schemas/{name}"

_SEQUENCES = {list, set, frozenset, collections.abc.Iterable, collections.abc.Sequence,
              collections.abc.Collection, collections.abc.Set, collections.abc.MutableSequence}
_MAPPINGS = {dict, collections.abc.Mapping, collections.abc.MutableMapping}


def _msgspec_knows(kind: Any) -> bool:
    try:
        msgspec.json.schema(kind)
    except (TypeError, ValueError, NameError):
        return False
    return True


def describable(kind: Any) -> Any:
    """`kind` with what msgspec cannot describe replaced by what it can."""
    if kind is None or kind is type(None) or _msgspec_knows(kind):
        return kind
    origin, args = get_origin(kind), get_args(kind)
    if origin is Annotated:
        return Annotated[(describable(args[0]), *kind.__metadata__)]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(describable(arg) for arg in args)]  # noqa: UP007 - built at run time
    if origin in _SEQUENCES:
        return list[describable(args[0])] if args else list[Any]
    if origin in _MAPPINGS:
        return dict[str, describable(args[1])] if len(args) == 2 else dict[str, Any]
    if origin is tuple:
        return list[Any]
    to_dict = getattr(kind, "to_dict", None)
    if callable(to_dict):
        try:
            return describable(typing.get_type_hints(to_dict).get("return", dict[str, Any]))
        except Exception:  # noqa: BLE001 - an unresolvable annotation: an object, nothing more said
            return dict[str, Any]
    return Any


class Schemas:
    """Collects the types of a document; `finish()` fills the schemas handed out and
    returns the components they refer to."""

    def __init__(self) -> None:
        self._pending: list[tuple[Any, dict[str, Any]]] = []

    def of(self, kind: Any) -> dict[str, Any]:
        """A schema for `kind`, filled in by finish() (any JSON value until then, and for None)."""
        schema: dict[str, Any] = {}
        if kind is not None and kind is not Any:
            self._pending.append((describable(kind), schema))
        return schema

    def finish(self) -> dict[str, Any]:
        kinds = [kind for kind, _ in self._pending]
        if not kinds:
            return {}
        schemas, components = msgspec.json.schema_components(kinds, ref_template=REF_TEMPLATE)
        for (_, target), schema in zip(self._pending, schemas, strict=True):
            target.update(schema)
        return dict(sorted(components.items()))


def struct_fields(kind: type) -> list[tuple[str, bool]]:
    """(name on the wire, required) of each field of a struct, in order."""
    info = msgspec.inspect.type_info(kind)
    return [(field.encode_name, field.required) for field in getattr(info, "fields", ())]


def field_type(kind: type, name: str) -> Any:
    info = msgspec.inspect.type_info(kind)
    for field in info.fields:
        if field.encode_name == name:
            return typing.get_type_hints(kind, include_extras=True)[field.name]
    raise KeyError(name)
