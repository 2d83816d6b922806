"""Session and cache encodings that never unpickle.

Flask-Session 0.8 decodes msgpack, then JSON, then falls back to pickle.loads;
cachelib's file store pickles every value. Anyone able to write into Redis,
memcached or the cache folder could then run code in the app. Here every
stored value is msgpack, and bytes that are not msgpack are treated as absent.
"""

from __future__ import annotations

import logging
from typing import IO, Any

import msgspec
from cachelib import FileSystemCache
from cachelib.serializers import FileSystemSerializer
from flask_session.base import Serializer

log = logging.getLogger(__name__)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


class StrictMsgpackSerializer(Serializer):
    """Flask-Session serializer: msgpack only, undecodable data is an empty session."""

    def encode(self, session) -> bytes:
        return _encoder.encode(dict(session))

    def decode(self, serialized_data: bytes) -> dict:
        try:
            data = _decoder.decode(serialized_data)
        except msgspec.DecodeError:
            log.warning("discarded a stored session that is not msgpack (%d bytes)", len(serialized_data))
            return {}
        return data if isinstance(data, dict) else {}


class MsgpackFileSerializer(FileSystemSerializer):
    """cachelib file serializer writing msgpack instead of pickle."""

    def dump(self, value: Any, f: IO[bytes], protocol: int = 0) -> None:
        f.write(_encoder.encode(value))

    def load(self, f: IO[bytes]) -> Any:
        try:
            return _decoder.decode(f.read())
        except msgspec.DecodeError:
            return None


class MsgpackFileSystemCache(FileSystemCache):
    """cachelib's FileSystemCache with msgpack files."""

    serializer = MsgpackFileSerializer()
