"""Small pieces of the login machinery that need no server."""

from __future__ import annotations

import io
import pickle

import msgspec
import pytest

from app.auth.redirects import safe_next
from app.sessions.serializers import MsgpackFileSerializer, StrictMsgpackSerializer


@pytest.mark.parametrize(("target", "expected"), [
    ("/dashboard", "/dashboard"),
    ("/courses?id=3#top", "/courses?id=3#top"),
    (None, "/"),
    ("", "/"),
    ("dashboard", "/"),
    ("https://evil.example", "/"),
    ("//evil.example/path", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("http:/evil.example", "/"),
    ("/ok\r\nSet-Cookie: x=1", "/"),
    ("/" + "a" * 3000, "/"),
])
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def test_session_serializer_round_trips_msgpack():
    serializer = StrictMsgpackSerializer()
    data = {"_user_id": "7", "cart": [1, 2], "flags": {"new": True}}
    assert serializer.decode(serializer.encode(data)) == data


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('unpickled!')",))


@pytest.mark.parametrize("payload", [pickle.dumps({"a": 1}), pickle.dumps(Boom()), b"\x00garbage", b"[1, 2]"])
def test_session_serializer_never_unpickles(payload):
    assert StrictMsgpackSerializer().decode(payload) == {}


def test_file_cache_serializer_writes_msgpack_not_pickle():
    buffer = io.BytesIO()
    MsgpackFileSerializer().dump({"k": [1, "x"]}, buffer)
    assert msgspec.msgpack.decode(buffer.getvalue()) == {"k": [1, "x"]}
    assert MsgpackFileSerializer().load(io.BytesIO(pickle.dumps(Boom()))) is None
