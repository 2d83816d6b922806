"""Where a login may send the browser next: only paths on this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` if it is a local path, else `default`.

    Refused: absolute URLs (https://evil.example), scheme-relative ones
    (//evil.example), backslash tricks (/\\evil.example, which browsers read as
    //), anything with control characters or a scheme.
    """
    if not target or len(target) > 2048:
        return default
    if any(ord(char) < 32 or char == "\\" for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target
