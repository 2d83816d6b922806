"""Links for mail: built from SERVER_ENV.PUBLIC_URL, never from a request's Host header.

A reset link built from the Host of the request that asked for it would send the
token to whatever host an attacker put in that header; these work the same in a
request, a job or a CLI command.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app

from flask_keel.extensions import current_settings


def public_base() -> str:
    """SERVER_ENV.PUBLIC_URL without its trailing slash; empty: http://BIND.ADDRESS:BIND.PORT."""
    server = current_settings().server
    if server.PUBLIC_URL:
        return server.PUBLIC_URL.rstrip("/")
    return f"http://{server.BIND.ADDRESS}:{server.BIND.PORT}"


def public_url(path: str = "/") -> str:
    """`path` (starting with /) on the public base URL."""
    return public_base() + "/" + path.lstrip("/")


def public_url_for(endpoint: str, **values) -> str:
    """url_for(endpoint, **values) as an absolute URL on the public base URL."""
    parts = urlsplit(public_base())
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)
