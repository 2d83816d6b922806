"""Encoding what a view returns: any JSON-able Python value, never pickle.

dict, list, set (as a list, in no set order), dataclass, datetime/date/time
(ISO 8601), Decimal and UUID (as strings), enums, msgspec structs, and any object with a `to_dict()` method
(the school models have one).
"""

from __future__ import annotations

from typing import Any

import msgspec


class NotSerializable(TypeError):
    pass


def _enc_hook(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    # msgspec encodes only the exact built-in types; subclasses (a config value read
    # from ${VAR}, markupsafe.Markup, an IntEnum-like int) are sent as their base value.
    for base in (str, int, float):
        if isinstance(value, base):
            return base(value)
    raise NotSerializable(f"cannot send a {type(value).__name__}; return JSON-able data or give it to_dict()")


_json = msgspec.json.Encoder(enc_hook=_enc_hook)


def to_json(value: Any) -> bytes:
    return _json.encode(value)


def to_builtins(value: Any) -> Any:
    """Plain dict/list/str/int/float/bool/None, for Socket.IO acks and pushes."""
    return msgspec.to_builtins(value, enc_hook=_enc_hook)
