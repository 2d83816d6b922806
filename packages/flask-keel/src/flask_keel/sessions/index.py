"""Which sessions each user has, kept beside the sessions in their own store.

A login adds an entry (the session id, when it was created, last seen, and the
client: its User-Agent shortened and its address), a logout removes it, and a
user's request refreshes "last seen" at most every SEEN_EVERY seconds per process
(never a write per request). An entry lives as long as the session it names
(`expires`, moved on with every write of the session); readers never trust it
alone: an entry counts only while the store still holds a session of that user
under its id (see `flask_keel.sessions.user_sessions`).

Entries are JSON decoded into a typed struct (msgspec), never pickle: whoever can
write to Redis, memcached or the session folder gets at most a wrong list.

- Redis: a hash per user, `<ns>:user-sessions:<id>`, one field per session.
- memcached: one item per user holding every entry, updated with check-and-set.
- files: a folder per user beside the session folder, a file per session.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

SEEN_EVERY = 300.0  # seconds between two writes of "last seen" for one session, per process
MAX_ENTRIES = 1000  # per user in memcached, whose item must stay well under 1 MB (~150 bytes each)
AGENT_CHARS = 80
ADDRESS_CHARS = 64
_CAS_ATTEMPTS = 8


class SessionEntry(msgspec.Struct, forbid_unknown_fields=False):
    """One session of a user, as the index keeps it (times are Unix seconds)."""

    sid: str
    created: float
    seen: float
    expires: float
    agent: str = ""
    address: str = ""

    @property
    def public_id(self) -> str:
        """Names the session to its user without giving away its id (a bearer secret)."""
        return hashlib.sha256(self.sid.encode()).hexdigest()[:16]


_encode = msgspec.json.Encoder().encode
_decode_entry = msgspec.json.Decoder(SessionEntry).decode
_decode_entries = msgspec.json.Decoder(dict[str, SessionEntry]).decode


def decode_entry(data: bytes | str | None) -> SessionEntry | None:
    try:
        return _decode_entry(data) if data else None
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chromium/", "Chromium"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"), ("python-requests/", "Python requests"),
             ("python-httpx/", "Python httpx"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def shorten_agent(agent: str | None) -> str:
    """"Firefox on Linux" from a User-Agent header; an unknown one cut to AGENT_CHARS."""
    agent = _UNPRINTABLE.sub("", agent or "")
    browser = next((name for token, name in _BROWSERS if token in agent), None)
    system = next((name for token, name in _SYSTEMS if token in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    return agent[:AGENT_CHARS] or "unknown client"


def new_entry(sid: str, agent: str | None, address: str | None, expires: float) -> SessionEntry:
    now = time.time()
    return SessionEntry(sid=sid, created=now, seen=now, expires=expires, agent=shorten_agent(agent),
                        address=_UNPRINTABLE.sub("", address or "")[:ADDRESS_CHARS])


class SessionIndex:
    """The index's operations; each store implements them. `user_id` is a string."""

    def __init__(self, namespace: str, lifetime: float):
        self.namespace = namespace
        self.lifetime = lifetime

    def key(self, user_id: str) -> str:
        return f"{self.namespace}:user-sessions:{user_id}"

    def put(self, user_id: str, entry: SessionEntry) -> None:
        """Add or replace the entry of `entry.sid`."""
        raise NotImplementedError

    def update(self, user_id: str, sid: str, *, seen: float | None = None, expires: float | None = None) -> bool:
        """Move an existing entry's last seen or expiry on; False (and nothing done) if it is not there."""
        entry = self.get(user_id, sid)
        if entry is None:
            return False
        if seen is not None:
            entry.seen = seen
        if expires is not None:
            entry.expires = expires
        self.put(user_id, entry)
        return True

    def get(self, user_id: str, sid: str) -> SessionEntry | None:
        return next((entry for entry in self.entries(user_id) if entry.sid == sid), None)

    def remove(self, user_id: str, sids: Iterable[str]) -> None:
        raise NotImplementedError

    def entries(self, user_id: str) -> list[SessionEntry]:
        """Every entry not past its expiry, unchecked against the session store."""
        raise NotImplementedError

    def prune(self, user_id: str) -> None:
        """Drop the user's entries past their expiry (at each login, so that a user who never
        opens the account page does not collect them)."""
        self.entries(user_id)


class RedisSessionIndex(SessionIndex):
    def __init__(self, client: Any, namespace: str, lifetime: float):
        super().__init__(namespace, lifetime)
        self.client = client

    def put(self, user_id: str, entry: SessionEntry) -> None:
        key = self.key(user_id)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(key, entry.sid, _encode(entry))
            # The hash outlives every session it names: the newest write lives longest.
            pipe.expire(key, int(self.lifetime) + 60)
            pipe.execute()

    def get(self, user_id: str, sid: str) -> SessionEntry | None:
        return decode_entry(self.client.hget(self.key(user_id), sid))

    def remove(self, user_id: str, sids: Iterable[str]) -> None:
        sids = list(sids)
        if sids:
            self.client.hdel(self.key(user_id), *sids)

    def entries(self, user_id: str) -> list[SessionEntry]:
        now = time.time()
        found, stale = [], []
        for field, value in self.client.hgetall(self.key(user_id)).items():
            entry = decode_entry(value)
            if entry is None or entry.sid != _text(field) or entry.expires <= now:
                stale.append(field)
            else:
                found.append(entry)
        if stale:
            self.client.hdel(self.key(user_id), *stale)
        return found


class MemcachedSessionIndex(SessionIndex):
    """One item per user; every change is a check-and-set, retried when another process won."""

    def __init__(self, client: Any, namespace: str, lifetime: float):
        super().__init__(namespace, lifetime)
        self.client = client

    def _read(self, user_id: str) -> tuple[dict[str, SessionEntry], Any]:
        value, cas = self.client.gets(self.key(user_id))
        if not value:
            return {}, cas
        try:
            entries = _decode_entries(value)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return {}, cas
        now = time.time()
        return {sid: entry for sid, entry in entries.items() if entry.sid == sid and entry.expires > now}, cas

    def _change(self, user_id: str, change) -> None:
        key = self.key(user_id)
        for _ in range(_CAS_ATTEMPTS):
            entries, cas = self._read(user_id)
            change(entries)
            if len(entries) > MAX_ENTRIES:  # the oldest go first
                for sid in sorted(entries, key=lambda sid: entries[sid].seen)[:len(entries) - MAX_ENTRIES]:
                    del entries[sid]
            value = _encode(entries)
            expire = int(self.lifetime) + 60
            if cas is None:
                if self.client.add(key, value, expire=expire, noreply=False):
                    return
            elif self.client.cas(key, value, cas, expire=expire, noreply=False):
                return

    def put(self, user_id: str, entry: SessionEntry) -> None:
        self._change(user_id, lambda entries: entries.__setitem__(entry.sid, entry))

    def update(self, user_id: str, sid: str, *, seen: float | None = None, expires: float | None = None) -> bool:
        found = []

        def move_on(entries: dict[str, SessionEntry]) -> None:
            found[:] = [sid in entries]
            entry = entries.get(sid)
            if entry is not None:
                entry.seen = seen if seen is not None else entry.seen
                entry.expires = expires if expires is not None else entry.expires

        self._change(user_id, move_on)
        return bool(found and found[0])

    def remove(self, user_id: str, sids: Iterable[str]) -> None:
        sids = set(sids)
        if sids:
            self._change(user_id, lambda entries: [entries.pop(sid, None) for sid in sids])

    def entries(self, user_id: str) -> list[SessionEntry]:
        return list(self._read(user_id)[0].values())

    def prune(self, user_id: str) -> None:
        pass  # every change writes back only the entries not past their expiry


class FileSessionIndex(SessionIndex):
    """A folder per user (the id's hash), a file per session (the session id's hash)."""

    def __init__(self, directory: Path, namespace: str, lifetime: float):
        super().__init__(namespace, lifetime)
        self.directory = directory

    def _folder(self, user_id: str) -> Path:
        return self.directory / hashlib.sha256(self.key(user_id).encode()).hexdigest()[:32]

    def _file(self, user_id: str, sid: str) -> Path:
        return self._folder(user_id) / (hashlib.sha256(sid.encode()).hexdigest()[:32] + ".json")

    def put(self, user_id: str, entry: SessionEntry) -> None:
        folder = self._folder(user_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written aside, then renamed: a reader sees the old entry or the new one, never half.
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(_encode(entry))
            os.replace(temporary, self._file(user_id, entry.sid))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def get(self, user_id: str, sid: str) -> SessionEntry | None:
        try:
            entry = decode_entry(self._file(user_id, sid).read_bytes())
        except OSError:
            return None
        return entry if entry is not None and entry.sid == sid else None

    def remove(self, user_id: str, sids: Iterable[str]) -> None:
        for sid in sids:
            with contextlib.suppress(FileNotFoundError):
                self._file(user_id, sid).unlink()

    def entries(self, user_id: str) -> list[SessionEntry]:
        folder = self._folder(user_id)
        now = time.time()
        found = []
        try:
            paths = list(folder.glob("*.json"))
        except OSError:
            return []
        for path in paths:
            try:
                entry = decode_entry(path.read_bytes())
            except OSError:
                continue  # removed meanwhile
            if entry is None or path.name != self._file(user_id, entry.sid).name or entry.expires <= now:
                with contextlib.suppress(OSError):
                    path.unlink()
            else:
                found.append(entry)
        return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
