"""Small pieces of the login machinery that need no server."""

from __future__ import annotations

import io
import pickle

import msgspec
import pytest

from flask_keel.auth.redirects import safe_next
from flask_keel.sessions.serializers import MsgpackFileSerializer, StrictMsgpackSerializer


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


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.1:4200", True), ("localhost:8080", True), ("app.localhost", True),
    ("[::1]:4200", True), ("10.0.0.1", False), ("example.org", False), ("localhost.example.org", False),
])
def test_loopback_hosts(host, loopback):
    from flask_keel.client.cookies import is_loopback

    assert is_loopback(host) is loopback


def test_secure_cookies_go_to_loopback_over_http_but_not_elsewhere():
    from flask_keel.client.cookies import LoopbackSession

    session = LoopbackSession()
    for domain in ("127.0.0.1", "example.org"):
        session.cookies.set("session", f"sid-{domain}", domain=domain, secure=True)
    loopback = session.prepare_request(__import__("requests").Request("GET", "http://127.0.0.1:4200/x"))
    remote = session.prepare_request(__import__("requests").Request("GET", "http://example.org/x"))
    secure_remote = session.prepare_request(__import__("requests").Request("GET", "https://example.org/x"))
    assert loopback.headers.get("Cookie") == "session=sid-127.0.0.1"
    assert "Cookie" not in remote.headers
    assert secure_remote.headers.get("Cookie") == "session=sid-example.org"
