"""Small helpers of any test: polling, free ports, nested config mappings, CSRF headers."""

from __future__ import annotations

import socket
import time


def csrf_headers(client) -> dict[str, str]:
    """The header a JSON client sends with unsafe methods, fetched as the Python client does."""
    return {"X-CSRFToken": client.get("/ws/csrf").json["csrf_token"]}


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.05):
    """Poll `predicate` until it returns something true, or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return predicate()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def merge(base: dict, extra: dict) -> dict:
    """`extra` laid over `base`, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = merge(merged[key], value) if isinstance(value, dict) and isinstance(
            merged.get(key), dict) else value
    return merged
