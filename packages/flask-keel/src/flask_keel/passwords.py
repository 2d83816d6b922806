"""Password hashing that never holds up other requests.

werkzeug's scrypt costs ~0.1 s of CPU and 32 MiB per hash, by design. Run on a
gevent worker's event loop it would stall every other request for that long,
so one client signing up or logging in as fast as it can would slow the whole
process. Under gevent, hashes run in a small pool of OS threads (hashlib
releases the GIL while it hashes): one fewer than the CPUs the process may use
(at least one), so a core stays free for serving and memory stays bounded.
Elsewhere (tests, CLI) they run inline.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from werkzeug.security import check_password_hash, generate_password_hash

from flask_keel.extensions import gevent_patched

T = TypeVar("T")

_pool: Any = None
_pool_pid: int | None = None
_lock = threading.Lock()


def _thread_pool() -> Any:
    """The process's hashing pool, made after the worker forked (a pool does not survive fork)."""
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            from gevent.threadpool import ThreadPool

            _pool = ThreadPool(maxsize=max(1, len(os.sched_getaffinity(0)) - 1))
            _pool_pid = os.getpid()
        return _pool


def off_loop(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)`, in a thread when an event loop would otherwise wait for it."""
    if not gevent_patched():
        return function(*args)
    return _thread_pool().apply(function, args)


def hash_password(password: str) -> str:
    return off_loop(generate_password_hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    return off_loop(check_password_hash, password_hash, password)
