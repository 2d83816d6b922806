"""Job payloads are JSON: a pickle in the queue is refused, never loaded."""

from __future__ import annotations

import datetime
import pickle

import pytest
from huey.api import Error
from huey.registry import Message

from flask_keel.jobs.serializer import JsonSerializer, PayloadError


class Boom:
    def __reduce__(self):  # what an attacker would put in a pickle
        return (print, ("this must never run",))


def test_a_pickle_is_refused_and_nothing_of_it_runs(capsys):
    serializer = JsonSerializer()
    for payload in (pickle.dumps({"a": 1}), pickle.dumps(Boom()), pickle.dumps(Boom(), protocol=0)):
        with pytest.raises(PayloadError, match="never loaded|not a JSON"):
            serializer.deserialize(payload)
    assert "must never run" not in capsys.readouterr().out


def test_garbage_and_foreign_json_shapes_are_refused():
    serializer = JsonSerializer()
    with pytest.raises(PayloadError):
        serializer.deserialize(b"{not json")
    with pytest.raises(PayloadError):
        serializer.deserialize(b"")


def test_what_cannot_be_json_is_refused_at_enqueue():
    with pytest.raises(TypeError, match="must be JSON data"):
        JsonSerializer().serialize({"file": object()})
    with pytest.raises(TypeError, match="must be JSON data"):
        JsonSerializer().serialize({1: "int key"})


def test_messages_errors_dates_and_bytes_round_trip():
    serializer = JsonSerializer()
    message = Message("id-1", "Controllers.jobs.report", datetime.datetime(2025, 1, 2, 3, 4, 5), 2, 0, None,
                      (1, "two"), {"text": "a,b\n", "when": datetime.date(2010, 4, 1), "raw": b"\x00\xff",
                                   "$dt": "a key of the user's own"}, None, None, None, None, None, None, None)
    back = serializer.deserialize(serializer.serialize(message))
    assert back == message
    assert isinstance(back.args, tuple)
    error = serializer.deserialize(serializer.serialize(Error({"error": "boom", "retries": 0})))
    assert isinstance(error, Error) and error.metadata == {"error": "boom", "retries": 0}


def test_a_users_data_never_passes_for_a_tag():
    serializer = JsonSerializer()
    data = {"$dt": "2020-01-01T00:00:00"}
    assert serializer.deserialize(serializer.serialize(data)) == data
    assert serializer.deserialize(serializer.serialize([{"$$x": 1}])) == [{"$$x": 1}]
