"""Processes a test session started and left running (a `memcached -d`, a server never stopped).

The session marks its environment with a token of its own; every process it starts
inherits it, daemons included (they leave the process tree, not their environment).
At the end, a process of this user still carrying the token is a leftover: the plugin
names it, ends it (it is the session's own) and fails the run. Linux only (/proc).
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from pathlib import Path

MARKER = "FLASK_KEEL_TEST_SESSION"
# Seconds a process stopped at the very end (a server's graceful stop) has to be gone.
GRACE = 10.0


def mark_session() -> str:
    """Tag this process's environment, so that every process it starts carries the token."""
    token = secrets.token_hex(8)
    os.environ[MARKER] = token
    return token


def carriers(token: str) -> dict[int, str]:
    """Live processes, other than this one, whose environment carries `token`: pid -> command line."""
    wanted = f"{MARKER}={token}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone, a zombie, or another user's
            continue
        if command:  # a zombie has no command line: it is already dead
            found[int(entry.name)] = command
    return found


def leftovers(token: str, grace: float = GRACE) -> dict[int, str]:
    """The carriers still there after `grace` seconds; each is then sent SIGTERM (then SIGKILL)."""
    deadline = time.monotonic() + grace
    left = carriers(token)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = carriers(token)
    for pid in left:
        _end(pid)
    return left


def _end(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(25):
            time.sleep(0.2)
            os.kill(pid, 0)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
